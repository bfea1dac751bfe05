import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nextStart } from '../../src/admin/review-service.ts';
import { systemActor } from '../../src/audit/audit.ts';
import type { Database } from '../../src/db/connect.ts';
import { exportDirectory } from '../../src/directory/export.ts';
import { importDirectory } from '../../src/directory/import.ts';
import { createTestDatabase } from '../support/db.ts';
import { createTestApp, csrfFrom, seedDirectory, signIn, type Agent, type TestApp } from '../support/app.ts';
import { PKG, USER } from '../support/fixtures.ts';
import { decideItem, isMember, itemId, managerReview, REVIEW, reviewFixture, specificReview, sweeper } from '../support/reviews.ts';

let database: Database;
let t: TestApp;
let db: Database['db'];
let ada: Agent;
let max: Agent;
let sweep: ReturnType<typeof sweeper>;

/** A review of the Archive catalog's package, which has no owner: administrators only. */
const ARCHIVE_REVIEW = 'b4444444-4444-4444-8444-444444444444';

/** Posts a form the way the page's own form would, with its CSRF token. */
async function post(agent: Agent, pagePath: string, action: string, fields: Record<string, string | string[]>) {
  const page = await agent.get(pagePath);
  expect(page.status, `${pagePath} should open`).toBe(200);
  return agent.post(action).type('form').send({ _csrf: csrfFrom(page.text), ...fields });
}

/** The review form filled in as a person would. */
function reviewFields(overrides: Record<string, string> = {}) {
  return {
    name: 'Wiki editors: quarterly',
    description: 'Do they still edit the wiki?',
    scope: `accessPackage:${PKG.wiki}`,
    reviewerType: 'specific',
    fallbackReviewers: '',
    specificReviewers: `${USER.approver}\n${USER.lead}`,
    startsOn: '2027-02-01',
    durationDays: '10',
    recurrence: 'quarterly',
    ifNoResponse: 'takeRecommendations',
    autoApply: 'yes',
    requireJustification: 'yes',
    ...overrides,
  };
}

/** What the import says about a file holding this review. */
async function importProblems(review: Record<string, unknown>): Promise<{ path: string; message: string }[]> {
  const file = (await exportDirectory(db, 'fabrikam.test'))!;
  file.accessReviews = [...(file.accessReviews ?? []), review as never];
  const result = await importDirectory(db, file, { dryRun: true, clock: t.clock, actor: systemActor('test') });
  expect(result.ok).toBe(false);
  return result.ok ? [] : result.problems;
}

const unescape = (html: string) => html.replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&amp;', '&');
const reviewId = async (name: string) => (await db('access_reviews').where({ name }).first('id')).id as string;
const latest = async (id: string) => db('access_review_instances').where({ access_review_id: id }).orderBy('starts_at', 'desc').first('*');

beforeAll(async () => {
  database = await createTestDatabase();
  db = database.db;
  t = createTestApp(database);
  await seedDirectory(
    database,
    reviewFixture([
      managerReview({ startsOn: '2027-03-01' }),
      specificReview({ startsOn: '2027-03-01T08:30:00Z' }),
      { id: ARCHIVE_REVIEW, name: 'Old system users', scope: { accessPackage: PKG.archived }, reviewers: { type: 'specific', users: [USER.admin] }, startsOn: '2027-02-10', durationDays: 7 },
    ]),
    t.clock,
  );
  ada = await signIn(t.app, USER.admin);
  max = await signIn(t.app, USER.manager);
  sweep = sweeper(db, t.services, t.clock);
});
afterAll(async () => {
  await database.close();
});

describe('the list and catalog-owner scope', () => {
  it('lists every review for an administrator, with what it reviews, who reviews and when it starts', async () => {
    const res = await ada.get('/admin/access-reviews');
    expect(res.status).toBe(200);
    for (const name of ['Staff membership', 'Source Repository holders', 'Old system users']) expect(res.text).toContain(`>${name}</a>`);
    expect(res.text).toContain('Members of the group Staff');
    expect(res.text).toContain(`Managers; without a manager: ${USER.approver}`);
    expect(res.text).toContain('<time datetime="2027-03-01T00:00:00.000Z">1 March 2027</time>');
    expect(res.text).toContain('Not started yet');
    expect(res.text).toContain('href="/admin/access-reviews/new"');
  });

  it('shows a catalog owner only the reviews of packages and resources in their catalogs', async () => {
    const res = await max.get('/admin/access-reviews');
    expect(res.status).toBe(200);
    expect(res.text).toContain('>Source Repository holders</a>');
    expect(res.text).not.toContain('Staff membership');
    expect(res.text).not.toContain('Old system users');
    expect((await max.get(`/admin/access-reviews/${REVIEW.specific}`)).status).toBe(200);
    for (const id of [REVIEW.manager, ARCHIVE_REVIEW]) {
      expect((await max.get(`/admin/access-reviews/${id}`)).status).toBe(404);
      expect((await max.get(`/admin/access-reviews/${id}/remove`)).status).toBe(404);
      const token = csrfFrom((await max.get('/admin/access-reviews')).text);
      expect((await max.post(`/admin/access-reviews/${id}`).type('form').send({ _csrf: token, ...reviewFields({ name: 'Taken over' }) })).status).toBe(404);
      expect((await max.post(`/admin/access-reviews/${id}/start`).type('form').send({ _csrf: token })).status).toBe(404);
      expect((await max.post(`/admin/access-reviews/${id}/remove`).type('form').send({ _csrf: token })).status).toBe(404);
    }
    expect(await db('access_reviews').where({ name: 'Taken over' }).first()).toBeUndefined();
    expect(await db('access_review_instances').count('* as n')).toEqual([{ n: 0 }]);
    const rita = await signIn(t.app, USER.requestor);
    expect((await rita.get('/admin/access-reviews')).status).toBe(404);
    expect((await rita.get(`/admin/access-reviews/${REVIEW.specific}`)).status).toBe(404);
  });

  it('offers a catalog owner only their packages and resources, and refuses anything else', async () => {
    const form = await max.get('/admin/access-reviews/new');
    expect(form.status).toBe(200);
    expect(form.text).toContain(`value="accessPackage:${PKG.wiki}"`);
    expect(form.text).toContain('value="resource:repo"');
    expect(form.text).not.toContain('value="group:');
    expect(form.text).not.toContain(PKG.archived);
    for (const scope of ['group:staff', `accessPackage:${PKG.archived}`, 'resource:old']) {
      const res = await post(max, '/admin/access-reviews/new', '/admin/access-reviews/new', reviewFields({ name: `Sneaky ${scope}`, scope }));
      expect(res.status).toBe(422);
      expect(res.text).toContain('<a href="#scope">What to review: choose one of the access packages, groups or resources in the list</a>');
      expect(await db('access_reviews').where({ name: `Sneaky ${scope}` }).first()).toBeUndefined();
    }
    const ok = await post(max, '/admin/access-reviews/new', '/admin/access-reviews/new', reviewFields({ name: 'Billing holders', scope: 'resource:billing', reviewerType: 'self', specificReviewers: '', startsOn: '2027-05-01' }));
    expect(ok.status).toBe(303);
    expect((await max.get('/admin/access-reviews')).text).toContain('>Billing holders</a>');
  });
});

describe('the review editor', () => {
  it('creates a review with every field of the file format, and audits it', async () => {
    const res = await post(ada, '/admin/access-reviews/new', '/admin/access-reviews/new', reviewFields());
    expect(res.status).toBe(303);
    const id = await reviewId('Wiki editors: quarterly');
    expect(res.headers.location).toBe(`/admin/access-reviews/${id}`);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const file = (await exportDirectory(db, 'fabrikam.test'))!;
    expect(file.accessReviews!.find((r) => r.id === id)).toEqual({
      id,
      name: 'Wiki editors: quarterly',
      description: 'Do they still edit the wiki?',
      scope: { accessPackage: PKG.wiki },
      reviewers: { type: 'specific', users: [USER.approver, USER.lead] },
      startsOn: '2027-02-01T00:00:00.000Z',
      durationDays: 10,
      recurrence: 'quarterly',
      ifNoResponse: 'takeRecommendations',
      autoApply: true,
      requireJustification: true,
      showRecommendations: false,
    });
    const page = await ada.get(res.headers.location);
    expect(page.text).toContain('Access review Wiki editors: quarterly created.');
    expect(page.text).toContain('Assignments of the access package Wiki editors');
    expect(page.text).toContain('This review has not started yet.');
    const audit = await db('audit_log').where({ action: 'accessReview.created', target_id: id }).first('details', 'actor_label');
    expect(audit.actor_label).toBe(USER.admin);
    expect(audit.details.before).toBeNull();
    expect(audit.details.after.reviewers).toEqual({ type: 'specific', users: [USER.approver, USER.lead] });
  });

  it('refuses what the import refuses, with the same messages, at the fields (the file’s structure)', async () => {
    const res = await post(ada, '/admin/access-reviews/new', '/admin/access-reviews/new', reviewFields({ name: '', startsOn: 'next tuesday', durationDays: '4000', recurrence: 'fortnightly' }));
    expect(res.status).toBe(422);
    const problems = await importProblems({ id: randomUUID(), name: '', scope: { accessPackage: PKG.wiki }, reviewers: { type: 'specific', users: [USER.approver] }, startsOn: 'next tuesday', durationDays: 4000, recurrence: 'fortnightly' });
    expect(problems.map((p) => p.path.replace(/^accessReviews\[\d+\]\./, ''))).toEqual(['name', 'startsOn', 'durationDays', 'recurrence']);
    const html = unescape(res.text);
    for (const p of problems) expect(html).toContain(p.message);
    expect(res.text).toContain('<a href="#name">Name: must not be empty</a>');
    expect(res.text).toContain('<a href="#startsOn">Start date: expected an ISO 8601 date');
    expect(res.text).toContain('<a href="#durationDays">Duration in days: at most 3660</a>');
    expect(res.text).toContain('<a href="#recurrence">Repeat: must be one of');
    // At the fields too, with the values as typed.
    expect(res.text).toContain('id="durationDays-error"');
    expect(res.text).toContain('value="4000"');
    expect(res.text).toContain('value="next tuesday"');
    expect(res.text).toContain(`${USER.approver}\n${USER.lead}</textarea>`);
    expect(res.text).toMatch(/<title>Error: Create an access review/);

    const words = await post(ada, '/admin/access-reviews/new', '/admin/access-reviews/new', reviewFields({ durationDays: 'two weeks' }));
    expect(words.status).toBe(422);
    const [wordsProblem] = await importProblems({ name: 'x', scope: { accessPackage: PKG.wiki }, reviewers: { type: 'self' }, startsOn: '2027-02-01', durationDays: 'two weeks' });
    expect(words.text).toContain(`<a href="#durationDays">Duration in days: ${wordsProblem.message}</a>`);
    expect(await db('access_reviews').where({ name: '' }).first()).toBeUndefined();
  });

  it('refuses what the import refuses, with the same messages, at the fields (references)', async () => {
    const cases: [Record<string, string>, Record<string, unknown>, string][] = [
      [{ specificReviewers: 'ghost@fabrikam.test' }, { type: 'specific', users: ['ghost@fabrikam.test'] }, 'specificReviewers'],
      [{ specificReviewers: '' }, { type: 'specific', users: [] }, 'specificReviewers'],
      [{ reviewerType: 'manager', fallbackReviewers: `${USER.approver}\nnobody@fabrikam.test` }, { type: 'manager', fallback: [USER.approver, 'nobody@fabrikam.test'] }, 'fallbackReviewers'],
      [{ specificReviewers: 'not an email' }, { type: 'specific', users: ['not an email'] }, 'specificReviewers'],
    ];
    for (const [fields, reviewers, field] of cases) {
      const res = await post(ada, '/admin/access-reviews/new', '/admin/access-reviews/new', reviewFields({ name: 'References', ...fields }));
      expect(res.status).toBe(422);
      const problems = await importProblems({ name: 'References', scope: { accessPackage: PKG.wiki }, reviewers, startsOn: '2027-02-01', durationDays: 10 });
      expect(problems).toHaveLength(1);
      const label = field === 'fallbackReviewers' ? 'Fallback reviewers' : 'Specific reviewers';
      expect(unescape(res.text)).toContain(`<a href="#${field}">${label}: ${problems[0].message}</a>`);
      expect(res.text).toContain(`id="${field}-error"`);
    }
    const none = await post(ada, '/admin/access-reviews/new', '/admin/access-reviews/new', reviewFields({ name: 'References', scope: '' }));
    expect(none.status).toBe(422);
    expect(none.text).toContain('<a href="#scope">What to review: choose an access package, group or resource</a>');
    expect(await db('access_reviews').where({ name: 'References' }).first()).toBeUndefined();
  });

  it('changes a review, keeps its start time when the date is unchanged, and audits before and after', async () => {
    const page = `/admin/access-reviews/${REVIEW.specific}`;
    const form = await ada.get(page);
    expect(form.text).toContain('value="2027-03-01"');
    expect(form.text).toContain('value="resource:repo" selected');
    const res = await post(ada, page, page, reviewFields({ name: 'Source Repository holders (monthly)', scope: 'resource:repo', reviewerType: 'specific', specificReviewers: USER.admin, startsOn: '2027-03-01', durationDays: '12', recurrence: 'monthly', ifNoResponse: 'noChange' }));
    expect(res.status).toBe(303);
    const row = await db('access_reviews').where({ id: REVIEW.specific }).first('*');
    expect(row).toMatchObject({ name: 'Source Repository holders (monthly)', duration_days: 12, recurrence: 'monthly', if_no_response: 'noChange', show_recommendations: false });
    expect(new Date(row.starts_on).toISOString()).toBe('2027-03-01T08:30:00.000Z');
    const audit = await db('audit_log').where({ action: 'accessReview.updated', target_id: REVIEW.specific }).first('details');
    expect(audit.details.before).toMatchObject({ name: 'Source Repository holders', durationDays: 14, reviewers: { type: 'specific', users: [USER.admin, USER.lead] } });
    expect(audit.details.after).toMatchObject({ name: 'Source Repository holders (monthly)', durationDays: 12, reviewers: { type: 'specific', users: [USER.admin] } });
    // A new date is the day's start.
    await post(ada, page, page, reviewFields({ name: 'Source Repository holders (monthly)', scope: 'resource:repo', specificReviewers: USER.admin, startsOn: '2027-03-02', recurrence: 'monthly' }));
    expect(new Date((await db('access_reviews').where({ id: REVIEW.specific }).first('starts_on')).starts_on).toISOString()).toBe('2027-03-02T00:00:00.000Z');
  });

  it('starts a review dated today at once, so it runs its whole duration', async () => {
    const now = t.clock.now();
    const res = await post(ada, '/admin/access-reviews/new', '/admin/access-reviews/new', reviewFields({ name: 'Wiki editors: today', startsOn: now.toISOString().slice(0, 10), durationDays: '1', recurrence: 'once' }));
    expect(res.status).toBe(303);
    const id = await reviewId('Wiki editors: today');
    expect(new Date((await db('access_reviews').where({ id }).first('starts_on')).starts_on).toISOString()).toBe(now.toISOString());
    await sweep();
    const instance = await latest(id);
    expect(new Date(instance.starts_at).toISOString()).toBe(now.toISOString());
    expect(new Date(instance.ends_at).getTime() - now.getTime()).toBe(24 * 3600_000);
    const remove = `/admin/access-reviews/${id}/remove`;
    expect((await post(ada, remove, remove, {})).status).toBe(303);
    await db('notifications').where('dedupe_key', 'like', `accessReviewStarted:${instance.id}:%`).delete();
  });

  it('removes a review through the import, with a confirmation page', async () => {
    const id = await reviewId('Wiki editors: quarterly');
    const confirm = await ada.get(`/admin/access-reviews/${id}/remove`);
    expect(confirm.status).toBe(200);
    expect(confirm.text).toContain('Are you sure you want to remove the access review Wiki editors: quarterly?');
    const res = await post(ada, `/admin/access-reviews/${id}/remove`, `/admin/access-reviews/${id}/remove`, {});
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/admin/access-reviews');
    expect(await db('access_reviews').where({ id }).first()).toBeUndefined();
    expect((await ada.get('/admin/access-reviews')).text).toContain('Access review Wiki editors: quarterly removed.');
    const audit = await db('audit_log').where({ action: 'accessReview.removed', target_id: id }).first('details');
    expect(audit.details.before.name).toBe('Wiki editors: quarterly');
    expect(audit.details.after).toBeNull();
    expect((await ada.get(`/admin/access-reviews/${id}`)).status).toBe(404);
  });
});

describe('instances: Start now, Stop, Apply results, results as CSV', () => {
  it('starts a group review now and refuses a second start while it runs', async () => {
    const page = `/admin/access-reviews/${REVIEW.manager}`;
    const res = await post(ada, page, `${page}/start`, {});
    expect(res.status).toBe(303);
    const instance = await latest(REVIEW.manager);
    expect(instance).toMatchObject({ state: 'active' });
    expect(new Date(instance.starts_at)).toEqual(t.clock.now());
    expect(new Date(instance.ends_at).getTime() - t.clock.now().getTime()).toBe(7 * 86_400_000);
    const shown = await ada.get(page);
    expect(shown.text).toContain('The review started: 5 people’s access to review. Reviewers have been sent an email.');
    expect(shown.text).toContain('0 of 5 decided');
    expect(shown.text).not.toContain('>Start now</button>');
    expect(await db('notifications').where({ kind: 'accessReviewStarted' }).count('* as n')).toEqual([{ n: 2 }]);
    const again = await post(ada, '/admin/access-reviews', `${page}/start`, {});
    expect(again.status).toBe(409);
    expect(again.text).toContain('This review is already running');
    expect(await db('access_review_instances').where({ access_review_id: REVIEW.manager }).count('* as n')).toEqual([{ n: 1 }]);
    const audit = await db('audit_log').where({ action: 'accessReview.startedNow', target_id: instance.id }).first('details');
    expect(audit.details).toMatchObject({ accessReviewId: REVIEW.manager, before: null, after: { state: 'active', items: 5 } });
  });

  it('stops an active instance after a confirmation, and answers 409 when it has already ended', async () => {
    const instance = await latest(REVIEW.manager);
    const otto = await itemId(db, instance.id, USER.other);
    expect((await decideItem(max, instance.id, otto, 'deny', 'Moved to Sales.')).status).toBe(303);
    const stopPage = `/admin/access-reviews/${REVIEW.manager}/instances/${instance.id}/stop`;
    // The definition changed while the instance ran: the instance keeps what it started with.
    await db('access_reviews').where({ id: REVIEW.manager }).update({ if_no_response: 'removeAccess', auto_apply: true });
    const confirm = await ada.get(stopPage);
    await db('access_reviews').where({ id: REVIEW.manager }).update({ if_no_response: 'takeRecommendations', auto_apply: false });
    expect(confirm.status).toBe(200);
    expect(confirm.text).toContain('Are you sure you want to stop this review now?');
    expect(confirm.text).toContain('1 of 5 decided');
    expect(confirm.text).toContain('<dt>If reviewers do not respond</dt><dd>Take the recommendations</dd>');
    expect(confirm.text).toContain('Its results wait until you apply them.');
    const res = await post(ada, stopPage, stopPage, {});
    expect(res.status).toBe(303);
    expect(await latest(REVIEW.manager)).toMatchObject({ state: 'ended' });
    const page = await ada.get(`/admin/access-reviews/${REVIEW.manager}`);
    expect(page.text).toContain('The review was stopped.');
    expect(page.text).toContain('>Start now</button>');
    expect(page.text).toContain(`/instances/${instance.id}/apply`);
    const again = await post(ada, `/admin/access-reviews/${REVIEW.manager}`, stopPage, {});
    expect(again.status).toBe(409);
    expect(again.text).toContain('This review has already ended');
    expect((await ada.get(stopPage)).text).toContain('This instance has already ended, so there is nothing to stop.');
    const audit = await db('audit_log').where({ action: 'accessReview.instanceStopped', target_id: instance.id }).first('details');
    expect(audit.details).toMatchObject({ before: { state: 'active', decided: 1 }, after: { state: 'ended', decided: 1 } });
    expect(await db('audit_log').where({ action: 'accessReview.stopped', target_id: instance.id }).first('id')).toBeTruthy();
  });

  it('applies the results of an ended instance after a confirmation, and answers 409 the second time', async () => {
    const instance = await latest(REVIEW.manager);
    const applyPage = `/admin/access-reviews/${REVIEW.manager}/instances/${instance.id}/apply`;
    const confirm = await ada.get(applyPage);
    expect(confirm.status).toBe(200);
    // Otto was denied; Nina (never signed in) is undecided and recommended Deny: takeRecommendations removes both.
    expect(confirm.text).toContain('2 people will lose access now and be told by email; 3 people keep it.');
    expect(await isMember(db, USER.other, 'staff')).toBe(true);
    const res = await post(ada, applyPage, applyPage, {});
    expect(res.status).toBe(303);
    expect(await latest(REVIEW.manager)).toMatchObject({ state: 'applied' });
    expect(await isMember(db, USER.other, 'staff')).toBe(false);
    expect(await isMember(db, USER.noManager, 'staff')).toBe(false);
    const page = await ada.get(`/admin/access-reviews/${REVIEW.manager}`);
    expect(page.text).toContain('The results were applied: 2 people lost access, 3 people kept it.');
    expect(page.text).toContain('Removed 2, kept 3');
    const again = await post(ada, `/admin/access-reviews/${REVIEW.manager}`, applyPage, {});
    expect(again.status).toBe(409);
    expect(again.text).toContain('These results were already applied');
    const audit = await db('audit_log').where({ action: 'accessReview.resultsApplied', target_id: instance.id }).first('details');
    expect(audit.details).toMatchObject({ before: { state: 'ended', removed: 0 }, after: { state: 'applied', removed: 2, kept: 3 } });
  });

  it('refuses to apply a running instance with 409', async () => {
    t.clock.set(new Date('2027-01-16T09:00:00Z'));
    const page = `/admin/access-reviews/${REVIEW.specific}`;
    expect((await post(ada, page, `${page}/start`, {})).status).toBe(303);
    const instance = await latest(REVIEW.specific);
    const applyPage = `${page}/instances/${instance.id}/apply`;
    expect((await ada.get(applyPage)).text).toContain('This instance is still running');
    const res = await post(ada, page, applyPage, {});
    expect(res.status).toBe(409);
    expect(res.text).toContain('This review has not ended');
    expect(await latest(REVIEW.specific)).toMatchObject({ state: 'active' });
    // The catalog owner may stop it: the resource is in his catalog. It applies itself (autoApply).
    const stop = `${page}/instances/${instance.id}/stop`;
    expect((await max.get(stop)).text).toContain('this review applies its results automatically');
    expect((await post(max, stop, stop, {})).status).toBe(303);
    expect(await latest(REVIEW.specific)).toMatchObject({ state: 'applied' });
    t.clock.set(new Date('2027-01-15T09:00:00Z'));
  });

  it('downloads the results as CSV for administrators and the catalog owner only', async () => {
    const instance = await latest(REVIEW.manager);
    const url = `/admin/access-reviews/${REVIEW.manager}/instances/${instance.id}/results.csv`;
    const res = await ada.get(url);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="staff-membership-2027-01-15\.csv"$/);
    expect(res.text).toContain('Otto Other,otto.other@fabrikam.test,Staff');
    expect(res.text).toContain('Moved to Sales.');
    expect((await max.get(url)).status).toBe(404);
    const specific = await latest(REVIEW.specific);
    expect((await max.get(`/admin/access-reviews/${REVIEW.specific}/instances/${specific.id}/results.csv`)).status).toBe(200);
    // An instance of another review under this review's address does not exist.
    expect((await ada.get(`/admin/access-reviews/${REVIEW.specific}/instances/${instance.id}/results.csv`)).status).toBe(404);
  });

  it('does not start a review held once again at its start date when it was started by hand', async () => {
    const page = `/admin/access-reviews/${ARCHIVE_REVIEW}`;
    expect((await ada.get('/admin/access-reviews')).text).toContain('<time datetime="2027-02-10T00:00:00.000Z">10 February 2027</time>');
    expect((await post(ada, page, `${page}/start`, {})).status).toBe(303);
    expect((await ada.get(page)).text).toContain('None planned');
    t.clock.set(new Date('2027-02-10T00:00:00Z'));
    try {
      expect((await sweep()).reviewsStarted).toBe(0);
      expect(await db('access_review_instances').where({ access_review_id: ARCHIVE_REVIEW }).count('* as n')).toEqual([{ n: 1 }]);
    } finally {
      t.clock.set(new Date('2027-01-15T09:00:00Z'));
    }
  });
});

describe('next start', () => {
  const at = (s: string) => new Date(s);
  it('follows the schedule, skips an occurrence after a start by hand, and is none for a review held once that ran', () => {
    const now = at('2027-01-15T09:00:00Z');
    expect(nextStart({ startsOn: at('2027-03-01T00:00:00Z'), recurrence: 'once', durationDays: 7 }, null, now)).toEqual(at('2027-03-01T00:00:00Z'));
    expect(nextStart({ startsOn: at('2027-03-01T00:00:00Z'), recurrence: 'once', durationDays: 7 }, now, now)).toBeNull();
    expect(nextStart({ startsOn: at('2027-01-01T00:00:00Z'), recurrence: 'once', durationDays: 7 }, null, now)).toBeNull();
    // Due now: the occurrence of 1 January runs until the 31st and nothing started it yet.
    expect(nextStart({ startsOn: at('2027-01-01T00:00:00Z'), recurrence: 'monthly', durationDays: 30 }, null, now)).toEqual(at('2027-01-01T00:00:00Z'));
    expect(nextStart({ startsOn: at('2027-01-01T00:00:00Z'), recurrence: 'monthly', durationDays: 30 }, at('2027-01-01T00:00:00Z'), now)).toEqual(at('2027-02-01T00:00:00Z'));
    // Started by hand on 15 January: 1 February is within 28 days, so the sweep starts it on 12 February.
    expect(nextStart({ startsOn: at('2027-01-01T00:00:00Z'), recurrence: 'monthly', durationDays: 20 }, now, now)).toEqual(at('2027-02-12T09:00:00Z'));
    expect(nextStart({ startsOn: at('2027-01-01T00:00:00Z'), recurrence: 'weekly', durationDays: 3 }, at('2027-01-15T00:00:00Z'), now)).toEqual(at('2027-01-22T00:00:00Z'));
  });
});
