import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/connect.ts';
import { createTestDatabase } from '../support/db.ts';
import { createTestApp, csrfFrom, seedDirectory, signIn, type TestApp } from '../support/app.ts';
import { fabrikam, PKG, USER, withOtherPackageIds } from '../support/fixtures.ts';
import { userId } from '../support/flows.ts';
import { decideItem, instanceOf, isMember, itemId, liveAssignment, managerReview, resetReviews, REVIEW, selfReview, specificReview, sweeper } from '../support/reviews.ts';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { REVIEW_BATCH } from '../../src/reviews/lifecycle.ts';
import { systemActor } from '../../src/audit/audit.ts';
import { DEMO_DIRECTORY_FILE } from '../../src/server.ts';
import type { CurrentUser } from '../../src/auth/current-user.ts';
import { mailTo as readMail } from '../support/mail.ts';
import { checkIntegrity } from '../../src/integrity/checks.ts';

let database: Database;
let t: TestApp;
let db: Database['db'];
const START = '2027-01-15T09:00:00Z';
let sweep: ReturnType<typeof sweeper>;

const mailTo = (email: string, kind?: string) => readMail(t, email, kind);
const itemsOf = (instanceId: string) =>
  db('access_review_items as it')
    .join('users as u', 'u.id', 'it.subject_user_id')
    .where('it.instance_id', instanceId)
    .orderBy('u.email')
    .select('u.email', 'it.access_label', 'it.recommendation', 'it.decision', 'it.outcome');
const reviewersOf = async (instanceId: string) => {
  const rows = await db('access_review_item_reviewers as x')
    .join('access_review_items as it', 'it.id', 'x.item_id')
    .join('users as s', 's.id', 'it.subject_user_id')
    .join('users as r', 'r.id', 'x.user_id')
    .where('it.instance_id', instanceId)
    .orderBy(['s.email', 'r.email'])
    .select('s.email as subject', 'r.email as reviewer');
  return rows.map((r) => `${r.subject} <- ${r.reviewer}`);
};
/** The service's view of a person, as the session would load it. */
async function currentUser(email: string, hint = 'fabrikam.test'): Promise<CurrentUser> {
  const row = await db('users as u').join('directories as d', 'd.id', 'u.directory_id').where({ 'u.email': email, 'd.hint': hint }).first('u.*', 'd.hint', 'd.name as dname');
  const owns = await db('catalog_owners').where({ user_id: row.id }).first('user_id');
  return { id: row.id, email, displayName: row.display_name, type: row.type, isAdmin: row.is_admin, ownsCatalogs: !!owns, directory: { id: row.directory_id, hint: row.hint, name: row.dname } };
}

/** An administrator saves the review's form, as the admin page posts it: the specific review with these changes. */
async function editSpecificReview(fields: Record<string, string>) {
  const ada = await signIn(t.app, USER.admin);
  const page = `/admin/access-reviews/${REVIEW.specific}`;
  const form = await ada.get(page);
  expect(form.status).toBe(200);
  const res = await ada.post(page).type('form').send({
    _csrf: csrfFrom(form.text),
    name: 'Source Repository holders',
    description: '',
    scope: 'resource:repo',
    reviewerType: 'specific',
    fallbackReviewers: '',
    specificReviewers: `${USER.admin}\n${USER.lead}`,
    startsOn: '2027-01-15',
    durationDays: '14',
    recurrence: 'monthly',
    ifNoResponse: 'noChange',
    autoApply: 'yes',
    requireJustification: 'yes',
    showRecommendations: 'yes',
    ...fields,
  });
  expect(res.status).toBe(303);
}

beforeAll(async () => {
  database = await createTestDatabase();
  db = database.db;
  t = createTestApp(database);
  sweep = sweeper(db, t.services, t.clock);
});
afterAll(async () => {
  await database.close();
});
beforeEach(() => {
  t.clock.set(START);
});

describe('starting a review', () => {
  it('starts at startsOn with one item per assignment in scope, asks each person about their own access, and emails them once', async () => {
    await resetReviews(database, t.clock, [selfReview({ startsOn: 'now+1d' })]);
    expect((await sweep()).reviewsStarted).toBe(0);
    t.clock.advance({ days: 1 });
    expect((await sweep()).reviewsStarted).toBe(1);
    expect((await sweep()).reviewsStarted).toBe(0);
    const instance = await instanceOf(db, REVIEW.self);
    expect(instance.state).toBe('active');
    expect(new Date(instance.starts_at).toISOString()).toBe('2027-01-16T09:00:00.000Z');
    expect(new Date(instance.ends_at).toISOString()).toBe('2027-01-30T09:00:00.000Z');
    expect(await itemsOf(instance.id)).toMatchObject([
      { email: USER.other, access_label: 'Wiki editors', recommendation: 'deny', decision: null },
      { email: USER.requestor, access_label: 'Wiki editors', recommendation: 'approve', decision: null },
    ]);
    expect(await reviewersOf(instance.id)).toEqual([`${USER.other} <- ${USER.other}`, `${USER.requestor} <- ${USER.requestor}`]);
    const mail = await mailTo(USER.requestor, 'accessReviewStarted');
    expect(mail).toHaveLength(1);
    expect(mail[0].subject).toBe('Action required: Review your access by 30 January 2027');
    expect(mail[0].text).toContain('Do you still need access to Wiki editors?');
    expect(mail[0].text).toContain(`http://127.0.0.1:3000/@fabrikam.test/access-reviews/${instance.id}`);
    expect(mail[0].text).toContain('If you do not answer by then, your access will be removed.');
    expect(await mailTo(USER.manager, 'accessReviewStarted')).toHaveLength(0);
    expect(await db('audit_log').where({ action: 'accessReview.started', target_id: instance.id }).count('* as n')).toEqual([{ n: 1 }]);
  });

  it('asks each person’s manager, and the fallback reviewers for people without one', async () => {
    await resetReviews(database, t.clock, [managerReview()]);
    await sweep();
    const instance = await instanceOf(db, REVIEW.manager);
    expect(await reviewersOf(instance.id)).toEqual([
      `${USER.lead} <- ${USER.manager}`,
      `${USER.manager} <- ${USER.approver}`,
      `${USER.noManager} <- ${USER.approver}`,
      `${USER.other} <- ${USER.manager}`,
      `${USER.requestor} <- ${USER.manager}`,
    ]);
    expect(await itemsOf(instance.id)).toMatchObject([
      { email: USER.lead, access_label: 'Staff', recommendation: 'approve' },
      { email: USER.manager, access_label: 'Staff', recommendation: 'approve' },
      { email: USER.noManager, access_label: 'Staff', recommendation: 'deny' },
      { email: USER.other, access_label: 'Staff', recommendation: 'deny' },
      { email: USER.requestor, access_label: 'Staff', recommendation: 'approve' },
    ]);
    const [mail] = await mailTo(USER.manager, 'accessReviewStarted');
    expect(mail.subject).toBe('Action required: Review access to Staff by 22 January 2027');
    expect(mail.text).toContain('Approve or deny the access of 3 people to Staff');
    expect((await mailTo(USER.approver, 'accessReviewStarted'))[0].text).toContain('the access of 2 people');
  });

  it('asks the specific reviewers about the holders of a resource’s roles, never about their own access', async () => {
    await resetReviews(database, t.clock, [specificReview()]);
    await sweep();
    const instance = await instanceOf(db, REVIEW.specific);
    expect(await itemsOf(instance.id)).toMatchObject([
      { email: USER.lead, access_label: 'Source Repository: Member' },
      { email: USER.manager, access_label: 'Source Repository: Owner' },
      { email: USER.noManager, access_label: 'Source Repository: Member' },
      { email: USER.other, access_label: 'Source Repository: Member' },
    ]);
    expect(await reviewersOf(instance.id)).toEqual([
      `${USER.lead} <- ${USER.admin}`,
      `${USER.manager} <- ${USER.admin}`,
      `${USER.manager} <- ${USER.lead}`,
      `${USER.noManager} <- ${USER.admin}`,
      `${USER.noManager} <- ${USER.lead}`,
      `${USER.other} <- ${USER.admin}`,
      `${USER.other} <- ${USER.lead}`,
    ]);
  });

  it('starts the next instance on each recurrence, with the access in scope at that moment', async () => {
    await resetReviews(database, t.clock, [specificReview({ durationDays: 7 })]);
    await sweep();
    const first = await instanceOf(db, REVIEW.specific);
    const ada = await signIn(t.app, USER.admin);
    expect((await decideItem(ada, first.id, await itemId(db, first.id, USER.other), 'deny', 'Left the project.')).status).toBe(303);
    t.clock.set('2027-01-22T09:00:00Z');
    const ended = await sweep();
    expect(ended).toMatchObject({ reviewsEnded: 1, reviewsStarted: 0 });
    expect((await instanceOf(db, REVIEW.specific)).state).toBe('applied');
    expect((await liveAssignment(db, USER.other, PKG.repo))?.state).toBe('expired');
    t.clock.set('2027-02-15T08:59:00Z');
    expect((await sweep()).reviewsStarted).toBe(0);
    t.clock.set('2027-02-15T09:00:00Z');
    expect((await sweep()).reviewsStarted).toBe(1);
    expect((await sweep()).reviewsStarted).toBe(0);
    const second = await instanceOf(db, REVIEW.specific);
    expect(second.id).not.toBe(first.id);
    expect(new Date(second.starts_at).toISOString()).toBe('2027-02-15T09:00:00.000Z');
    expect(new Date(second.ends_at).toISOString()).toBe('2027-02-22T09:00:00.000Z');
    // Otto's access was removed by the first instance, so the second does not ask about it.
    expect((await itemsOf(second.id)).map((i) => i.email)).toEqual([USER.lead, USER.manager, USER.noManager]);
    expect(await db('access_review_instances').where({ access_review_id: REVIEW.specific }).count('* as n')).toEqual([{ n: 2 }]);
  });

  it('starts nothing for a review whose whole window passed while nothing swept, and waits for its next occurrence', async () => {
    await resetReviews(database, t.clock, [specificReview({ startsOn: 'now-20d', durationDays: 7 })]);
    expect((await sweep()).reviewsStarted).toBe(0);
    t.clock.set('2027-01-26T09:00:00Z'); // 26 December + 1 month
    expect((await sweep()).reviewsStarted).toBe(1);
    expect(new Date((await instanceOf(db, REVIEW.specific)).starts_at).toISOString()).toBe('2027-01-26T09:00:00.000Z');
  });

  it('starts a due review even when a whole batch of earlier recurring reviews has nothing to start', async () => {
    // Monthly reviews are candidates again 28 days after their start, though their next occurrence
    // is in February: a batch full of them must not hide the review due on the 30th.
    const review = (name: string, spec: object) => ({ id: randomUUID(), name, scope: { accessPackage: PKG.wiki }, reviewers: { type: 'specific', users: [USER.admin] }, ifNoResponse: 'noChange', ...spec });
    const monthly = Array.from({ length: REVIEW_BATCH + 1 }, (_, i) => review(`Monthly ${i}`, { startsOn: '2027-01-01T00:00:00Z', durationDays: 14, recurrence: 'monthly' }));
    const once = review('Once on the 30th', { startsOn: '2027-01-30T00:00:00Z', durationDays: 1, recurrence: 'once' });
    t.clock.set('2027-01-01T00:00:00Z');
    await resetReviews(database, t.clock, [...monthly, once]);
    expect((await sweep()).reviewsStarted).toBe(REVIEW_BATCH + 1);
    t.clock.set('2027-01-30T09:00:00Z');
    expect((await sweep()).reviewsStarted).toBe(1);
    expect(await db('access_review_instances').where({ access_review_id: once.id, state: 'active' }).count('* as n')).toEqual([{ n: 1 }]);
  });
});

describe('reviewing', () => {
  let instanceId: string;
  beforeEach(async () => {
    await resetReviews(database, t.clock, [managerReview()]);
    await sweep();
    instanceId = (await instanceOf(db, REVIEW.manager)).id;
  });

  it('lists the review for its reviewers with deadline and progress, and shows each reviewer only their own items', async () => {
    const max = await signIn(t.app, USER.manager);
    const list = await max.get('/access-reviews');
    expect(list.status).toBe(200);
    expect(list.text).toContain(`<a href="/access-reviews/${instanceId}">Staff membership</a>`);
    expect(list.text).toContain('Members of the group Staff');
    expect(list.text).toContain('22 January 2027 at 09:00 UTC');
    expect(list.text).toContain('0 of 3 reviewed');
    const page = await max.get(`/access-reviews/${instanceId}`);
    expect(page.status).toBe(200);
    for (const name of ['Rita Requestor', 'Otto Other', 'Lia Lead']) expect(page.text).toContain(`<th scope="row">${name}<div`);
    for (const name of ['Nina Nomanager', 'Max Manager']) expect(page.text).not.toContain(`<th scope="row">${name}<div`);
    expect(page.text).toContain('<caption>People to review</caption>');
    expect(page.text).toContain('Recommended: Deny (no sign-in for 30 days)');
    expect(page.text).toContain('Recommended: Approve (signed in within 30 days)');
    expect(page.text).toContain('>Accept recommendations</button>');

    const apu = await signIn(t.app, USER.approver);
    const apuPage = await apu.get(`/access-reviews/${instanceId}`);
    expect(apuPage.text).toContain('<th scope="row">Nina Nomanager<div');
    expect(apuPage.text).toContain('<th scope="row">Max Manager<div');
    expect(apuPage.text).not.toContain('Rita Requestor');

    // Someone else's item, by a reviewer of the same review: 404, and nothing recorded.
    const nina = await itemId(db, instanceId, USER.noManager);
    expect((await max.get(`/access-reviews/${instanceId}/items/${nina}`)).status).toBe(404);
    const token = csrfFrom(page.text);
    expect((await max.post(`/access-reviews/${instanceId}/items/${nina}`).type('form').send({ _csrf: token, decision: 'deny' })).status).toBe(404);
    expect((await db('access_review_items').where({ id: nina }).first('decision')).decision).toBeNull();
    // Not a reviewer of this review at all: 404 everywhere, and the list is empty.
    const rita = await signIn(t.app, USER.requestor);
    expect((await rita.get('/access-reviews')).text).toContain('No access reviews are waiting for you.');
    expect((await rita.get(`/access-reviews/${instanceId}`)).status).toBe(404);
    expect((await rita.get(`/access-reviews/${instanceId}/results.csv`)).status).toBe(404);
    const ritaToken = csrfFrom((await rita.get('/access-reviews')).text);
    expect((await rita.post(`/access-reviews/${instanceId}/accept-recommendations`).type('form').send({ _csrf: ritaToken })).status).toBe(404);
    expect((await rita.get('/access-reviews/not-a-uuid')).status).toBe(404);
  });

  it('reads a broken page key as the first page, not as an error', async () => {
    const max = await signIn(t.app, USER.manager);
    const key = (parts: unknown[]) => Buffer.from(JSON.stringify(parts)).toString('base64url');
    for (const param of ['after', 'before']) {
      const items = await max.get(`/access-reviews/${instanceId}?${param}=${key(['a', 'not-a-uuid'])}`);
      expect(items.status).toBe(200);
      for (const name of ['Rita Requestor', 'Otto Other', 'Lia Lead']) expect(items.text).toContain(`<th scope="row">${name}<div`);
      const list = await max.get(`/access-reviews?${param}=${key(['2027-01-01T00:00:00.000Z', 'not-a-uuid'])}`);
      expect(list.status).toBe(200);
      expect(list.text).toContain(`<a href="/access-reviews/${instanceId}">Staff membership</a>`);
      const ended = await max.get(`/access-reviews/ended?${param}=${key(['2027-01-01T00:00:00.000Z', 'not-a-uuid'])}`);
      expect(ended.status).toBe(200);
    }
  });

  it('answers 404 to a reviewer from another directory', async () => {
    await seedDirectory(database, withOtherPackageIds(fabrikam({ hint: 'other.test', name: 'Other Directory' }), 'd9'), t.clock);
    const stranger = await signIn(t.app, USER.noManager, { directory: 'Other Directory' });
    expect((await stranger.get(`/access-reviews/${instanceId}`)).status).toBe(404);
    expect((await stranger.get(`/access-reviews/${instanceId}/results.csv`)).status).toBe(404);
    await db('directories').where({ hint: 'other.test' }).delete();
  });

  it('answers 404 to a reviewer whose items were all given to others', async () => {
    const apuId = (await db('users').where({ email: USER.approver }).whereIn('directory_id', db('access_reviews as r').join('access_review_instances as i', 'i.access_review_id', 'r.id').where('i.id', instanceId).select('r.directory_id')).first('id')).id;
    const theirs = await db('access_review_item_reviewers as x').join('access_review_items as it', 'it.id', 'x.item_id').where({ 'it.instance_id': instanceId, 'x.user_id': apuId }).select('x.item_id', 'x.user_id');
    expect(theirs.length).toBeGreaterThan(0);
    await db('access_review_item_reviewers').whereIn('item_id', theirs.map((x) => x.item_id)).where({ user_id: apuId }).delete();
    try {
      const apu = await signIn(t.app, USER.approver);
      expect((await apu.get(`/access-reviews/${instanceId}`)).status).toBe(404);
      expect((await apu.get(`/access-reviews/${instanceId}/results.csv`)).status).toBe(404);
    } finally {
      await db('access_review_item_reviewers').insert(theirs);
    }
  });

  it('records Approve, Deny and Don’t know with a reason, and lets the reviewer change a decision until the end', async () => {
    const max = await signIn(t.app, USER.manager);
    const rita = await itemId(db, instanceId, USER.requestor);
    const otto = await itemId(db, instanceId, USER.other);
    const lia = await itemId(db, instanceId, USER.lead);
    const res = await decideItem(max, instanceId, rita, 'approve', 'Works on the wiki.');
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(`/access-reviews/${instanceId}/items/${rita}`);
    const after = await max.get(res.headers.location);
    expect(after.text).toContain('You approved Rita Requestor’s access to Staff.');
    expect(after.text).toContain('Approved</strong> by Max Manager');
    expect(after.text).toContain('Reason: Works on the wiki.');
    expect(after.text).toContain('Review the next person: Lia Lead');
    expect((await decideItem(max, instanceId, otto, 'dontKnow')).status).toBe(303);
    expect((await decideItem(max, instanceId, lia, 'deny', 'Moved to Sales.')).status).toBe(303);
    // Changing a decision: the last one counts, and the history keeps both.
    expect((await decideItem(max, instanceId, lia, 'approve', 'Moved back.')).status).toBe(303);
    const item = await db('access_review_items').where({ id: lia }).first('decision', 'justification', 'decided_by_id');
    expect(item).toEqual({ decision: 'approve', justification: 'Moved back.', decided_by_id: await userId(db, USER.manager) });
    expect(await db('access_review_decisions').where({ item_id: lia }).orderBy('id').pluck('decision')).toEqual(['deny', 'approve']);
    expect(await db('audit_log').where({ target_id: lia }).orderBy('id').pluck('action')).toEqual(['accessReview.decided', 'accessReview.decisionChanged']);
    const page = await max.get(`/access-reviews/${instanceId}`);
    expect(page.text).toContain('3 of 3 people reviewed');
    expect(page.text).toContain(">Don't know</strong>");
    expect((await max.get('/access-reviews')).text).toContain('3 of 3 reviewed');
  });

  it('requires a reason when the review says so, and refuses a decision that is not one of the three', async () => {
    await resetReviews(database, t.clock, [managerReview({ requireJustification: true })]);
    await sweep();
    instanceId = (await instanceOf(db, REVIEW.manager)).id;
    const max = await signIn(t.app, USER.manager);
    const rita = await itemId(db, instanceId, USER.requestor);
    const res = await decideItem(max, instanceId, rita, 'deny', '   ');
    expect(res.status).toBe(422);
    expect(res.text).toContain('<a href="#justification">Enter a reason for your decision</a>');
    expect(res.text).toContain('<title>Error: Rita Requestor');
    const odd = await decideItem(max, instanceId, rita, 'maybe', 'Because.');
    expect(odd.status).toBe(422);
    expect(odd.text).toContain('Choose Approve, Deny or Don&#39;t know');
    const long = await decideItem(max, instanceId, rita, 'deny', 'z'.repeat(2001));
    expect(long.text).toContain('Reason must be 2,000 characters or fewer');
    const token = csrfFrom(res.text);
    expect((await max.post(`/access-reviews/${instanceId}/items/${rita}`).type('form').send(`_csrf=${token}&decision=approve&decision=deny`)).status).toBe(400);
    expect((await db('access_review_items').where({ id: rita }).first('decision')).decision).toBeNull();
  });

  it('accepts the recommendations for every undecided item at once, leaving decided items alone', async () => {
    const max = await signIn(t.app, USER.manager);
    const lia = await itemId(db, instanceId, USER.lead);
    await decideItem(max, instanceId, lia, 'deny', 'Left the team.');
    const page = await max.get(`/access-reviews/${instanceId}`);
    expect(page.text).toContain('2 people you review have a recommendation and no decision yet.');
    const res = await max.post(`/access-reviews/${instanceId}/accept-recommendations`).type('form').send({ _csrf: csrfFrom(page.text) });
    expect(res.status).toBe(303);
    const after = await max.get(res.headers.location);
    expect(after.text).toContain('You accepted 2 recommendations.');
    expect(after.text).not.toContain('>Accept recommendations</button>');
    const items = await db('access_review_items as it').join('users as u', 'u.id', 'it.subject_user_id').where('it.instance_id', instanceId).orderBy('u.email').select('u.email', 'it.decision', 'it.justification');
    expect(items).toEqual([
      { email: USER.lead, decision: 'deny', justification: 'Left the team.' },
      { email: USER.manager, decision: null, justification: null },
      { email: USER.noManager, decision: null, justification: null },
      { email: USER.other, decision: 'deny', justification: 'Accepted the recommendation: no sign-in for 30 days.' },
      { email: USER.requestor, decision: 'approve', justification: 'Accepted the recommendation: signed in within the last 30 days.' },
    ]);
    expect(await db('audit_log').where({ target_id: instanceId, action: 'accessReview.recommendationsAccepted' }).first('details')).toMatchObject({ details: { items: 2, approved: 1, denied: 1 } });
  });

  it('asks a self-reviewer "Do you still need access?" with Yes and No, and a reason', async () => {
    await resetReviews(database, t.clock, [selfReview()]);
    await sweep();
    instanceId = (await instanceOf(db, REVIEW.self)).id;
    const rita = await signIn(t.app, USER.requestor);
    expect((await rita.get('/access-reviews')).text).toContain('>Review your access</a>');
    const page = await rita.get(`/access-reviews/${instanceId}`);
    expect(page.text).toContain('<h1>Review your access</h1>');
    expect(page.text).toContain('Do you still need access to Wiki editors?');
    expect(page.text).toMatch(/<label class="radios__label" for="decision-[0-9a-f-]+">Yes<\/label>/);
    expect(page.text).toMatch(/<label class="radios__label" for="decision-[0-9a-f-]+-2">No<\/label>/);
    expect(page.text).not.toContain('Otto Other');
    const item = await itemId(db, instanceId, USER.requestor);
    const itemPage = await rita.get(`/access-reviews/${instanceId}/items/${item}`);
    expect(itemPage.status).toBe(303);
    expect(itemPage.headers.location).toBe(`/access-reviews/${instanceId}`);
    const empty = await rita.post(`/access-reviews/${instanceId}/items/${item}`).type('form').send({ _csrf: csrfFrom(page.text), justification: '' });
    expect(empty.status).toBe(422);
    expect(empty.text).toContain(`<a href="#decision-${item}">Choose Yes or No</a>`);
    expect(empty.text).toContain(`<a href="#justification-${item}">Enter a reason for your answer</a>`);
    const dontKnow = await rita.post(`/access-reviews/${instanceId}/items/${item}`).type('form').send({ _csrf: csrfFrom(page.text), decision: 'dontKnow', justification: 'Hmm' });
    expect(dontKnow.status).toBe(422);
    const res = await rita.post(`/access-reviews/${instanceId}/items/${item}`).type('form').send({ _csrf: csrfFrom(page.text), decision: 'approve', justification: 'I maintain the runbooks.' });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(`/access-reviews/${instanceId}`);
    const after = await rita.get(res.headers.location);
    expect(after.text).toContain('Thank you. You told us you still need access to Wiki editors.');
    expect(after.text).toContain('Your answer: Yes');
    // Otto's item is not Rita's to answer.
    const otto = await itemId(db, instanceId, USER.other);
    expect((await rita.post(`/access-reviews/${instanceId}/items/${otto}`).type('form').send({ _csrf: csrfFrom(page.text), decision: 'deny', justification: 'x' })).status).toBe(404);
  });

  it('downloads results as CSV: reviewers get their rows, administrators every row, with formulas defused', async () => {
    const max = await signIn(t.app, USER.manager);
    const rita = await itemId(db, instanceId, USER.requestor);
    await decideItem(max, instanceId, rita, 'approve', '=HYPERLINK("http://evil.example","click")');
    await decideItem(max, instanceId, await itemId(db, instanceId, USER.other), 'deny', '@SUM(1+1), "quoted"');
    const csv = await max.get(`/access-reviews/${instanceId}/results.csv`);
    expect(csv.status).toBe(200);
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(csv.headers['content-disposition']).toBe('attachment; filename="staff-membership-2027-01-15.csv"');
    const lines = csv.text.replace(/^\uFEFF/, '').trimEnd().split('\r\n');
    expect(lines[0]).toBe('Review,Review start,Review end,Person,Email,Access,Access since,Last sign-in,Recommendation,Decision,Reviewed by,Reviewed at,Reason,Outcome,Applied at');
    expect(lines).toHaveLength(4);
    expect(lines.find((l) => l.includes('Rita Requestor'))).toContain(`,Approve,Approve,Max Manager,2027-01-15T09:00:00.000Z,"'=HYPERLINK(""http://evil.example"",""click"")",,`);
    expect(lines.find((l) => l.includes('Otto Other'))).toContain(`"'@SUM(1+1), ""quoted"""`);
    expect(lines.find((l) => l.includes('Lia Lead'))).toContain(',Not reviewed,');
    const ada = await signIn(t.app, USER.admin);
    const all = await ada.get(`/access-reviews/${instanceId}/results.csv`);
    expect(all.status).toBe(200);
    expect(all.text.trimEnd().split('\r\n')).toHaveLength(6);
    const apu = await signIn(t.app, USER.approver);
    expect((await apu.get(`/access-reviews/${instanceId}/results.csv`)).text.trimEnd().split('\r\n')).toHaveLength(3);
  });
});

describe('ending a review', () => {
  it('with autoApply, Deny removes the access (assignment ended, grants revoked, audit, email) and Approve, Don’t know and no change keep it', async () => {
    await resetReviews(database, t.clock, [specificReview()]);
    await sweep();
    const instance = await instanceOf(db, REVIEW.specific);
    const ada = await signIn(t.app, USER.admin);
    expect((await decideItem(ada, instance.id, await itemId(db, instance.id, USER.other), 'deny', 'Left the project.')).status).toBe(303);
    expect((await decideItem(ada, instance.id, await itemId(db, instance.id, USER.noManager), 'approve', 'Still on call.')).status).toBe(303);
    expect((await decideItem(ada, instance.id, await itemId(db, instance.id, USER.lead), 'dontKnow', 'Not sure what she does.')).status).toBe(303);
    const otto = (await liveAssignment(db, USER.other, PKG.repo))!;

    t.clock.set('2027-01-29T08:59:00Z');
    expect((await sweep()).reviewsEnded).toBe(0);
    t.clock.set('2027-01-29T09:00:00Z');
    expect((await sweep()).reviewsEnded).toBe(1);
    expect((await sweep()).reviewsEnded).toBe(0);
    const after = await instanceOf(db, REVIEW.specific);
    expect(after).toMatchObject({ state: 'applied' });
    expect(new Date(after.applied_at!).toISOString()).toBe('2027-01-29T09:00:00.000Z');
    expect(await itemsOf(instance.id)).toMatchObject([
      { email: USER.lead, decision: 'dontKnow', outcome: 'kept' },
      { email: USER.manager, decision: null, outcome: 'kept' },
      { email: USER.noManager, decision: 'approve', outcome: 'kept' },
      { email: USER.other, decision: 'deny', outcome: 'removed' },
    ]);
    expect(await db('assignments').where({ id: otto.id }).first('state', 'end_reason')).toEqual({ state: 'expired', end_reason: 'review' });
    expect(await db('assignment_grants').where({ assignment_id: otto.id }).whereNull('revoked_at').count('* as n')).toEqual([{ n: 0 }]);
    for (const email of [USER.lead, USER.noManager]) expect((await liveAssignment(db, email, PKG.repo))?.state).toBe('delivered');
    expect((await liveAssignment(db, USER.manager, PKG.adminOnly))?.state).toBe('delivered');
    expect((await liveAssignment(db, USER.other, PKG.wiki))?.state).toBe('delivered');
    expect(await db('audit_log').where({ target_id: otto.id, action: 'assignment.removed' }).first('actor_label', 'details')).toMatchObject({ actor_label: 'lifecycle', details: { reason: 'review', instanceId: instance.id } });
    expect(await db('audit_log').where({ target_id: instance.id }).orderBy('id').pluck('action')).toEqual(['accessReview.started', 'accessReview.ended', 'accessReview.applied']);
    const [mail] = await mailTo(USER.other, 'accessEnded');
    expect(mail.subject).toBe('Access has ended for Repository access');
    expect(mail.text).toContain('it was removed after the access review “Source Repository holders”.');
    expect(await mailTo(USER.noManager, 'accessEnded')).toHaveLength(0);

    const ottoAgent = await signIn(t.app, USER.other);
    const active = await ottoAgent.get('/access-packages/active');
    expect(active.text).not.toContain('Repository access');
    expect(active.text).toContain('Wiki editors');
    const expired = await ottoAgent.get('/access-packages/expired');
    expect(expired.text).toContain('Repository access');
    expect(expired.text).toContain('Removed in access review');
    // The reviewer sees the outcome, read-only.
    const page = await ada.get(`/access-reviews/${instance.id}`);
    expect(page.text).toContain('Applied on 29 January 2027 at 09:00 UTC');
    expect(page.text).toContain('Access removed');
    expect(page.text).not.toContain('>Accept recommendations</button>');
    expect((await ada.get('/access-reviews')).text).toContain('No access reviews are waiting for you.');
    const ended = await ada.get('/access-reviews/ended');
    expect(ended.text).toContain(`<a href="/access-reviews/${instance.id}">Source Repository holders</a>`);
    expect(ended.text).toContain(`href="/access-reviews/${instance.id}/results.csv"`);
    expect((await ada.get(`/access-reviews/${instance.id}/results.csv`)).text).toMatch(/Otto Other,otto\.other@fabrikam\.test,Source Repository: Member,.*,Deny,Ada Admin,.*,Left the project\.,Access removed,2027-01-29T09:00:00\.000Z/);
  });

  it('ifNoResponse removeAccess: undecided access is removed, answered access kept', async () => {
    await resetReviews(database, t.clock, [selfReview()]);
    await sweep();
    const instance = await instanceOf(db, REVIEW.self);
    const rita = await signIn(t.app, USER.requestor);
    const page = await rita.get(`/access-reviews/${instance.id}`);
    const item = await itemId(db, instance.id, USER.requestor);
    expect((await rita.post(`/access-reviews/${instance.id}/items/${item}`).type('form').send({ _csrf: csrfFrom(page.text), decision: 'approve', justification: 'Still needed.' })).status).toBe(303);
    t.clock.advance({ days: 14 });
    await sweep();
    expect(await itemsOf(instance.id)).toMatchObject([
      { email: USER.other, decision: null, outcome: 'removed' },
      { email: USER.requestor, decision: 'approve', outcome: 'kept' },
    ]);
    expect((await liveAssignment(db, USER.other, PKG.wiki))?.state).toBe('expired');
    expect((await liveAssignment(db, USER.requestor, PKG.wiki))?.state).toBe('delivered');
    const after = await rita.get(`/access-reviews/${instance.id}`);
    expect(after.text).toContain('You answered <strong>Yes</strong>');
    expect(after.text).toContain('Your access was <strong>kept</strong>');
  });

  it('ifNoResponse takeRecommendations: undecided people follow the recommendation; a group membership is removed and the person told', async () => {
    await resetReviews(database, t.clock, [managerReview({ autoApply: true })]);
    await sweep();
    const instance = await instanceOf(db, REVIEW.manager);
    const max = await signIn(t.app, USER.manager);
    // Otto is recommended Deny, but Don't know keeps his access.
    expect((await decideItem(max, instance.id, await itemId(db, instance.id, USER.other), 'dontKnow')).status).toBe(303);
    t.clock.advance({ days: 7 });
    await sweep();
    expect(await itemsOf(instance.id)).toMatchObject([
      { email: USER.lead, decision: null, recommendation: 'approve', outcome: 'kept' },
      { email: USER.manager, decision: null, recommendation: 'approve', outcome: 'kept' },
      { email: USER.noManager, decision: null, recommendation: 'deny', outcome: 'removed' },
      { email: USER.other, decision: 'dontKnow', recommendation: 'deny', outcome: 'kept' },
      { email: USER.requestor, decision: null, recommendation: 'approve', outcome: 'kept' },
    ]);
    expect(await isMember(db, USER.noManager, 'staff')).toBe(false);
    for (const email of [USER.lead, USER.manager, USER.other, USER.requestor]) expect(await isMember(db, email, 'staff')).toBe(true);
    const groupId = (await db('groups').where({ key: 'staff' }).first('id')).id;
    expect(await db('audit_log').where({ target_id: groupId, action: 'group.memberRemoved' }).first('details')).toMatchObject({ details: { userId: await userId(db, USER.noManager), reason: 'review' } });
    const [mail] = await mailTo(USER.noManager, 'accessRemovedByReview');
    expect(mail.subject).toBe('You are no longer a member of Staff');
    expect(mail.text).toContain('removed after the access review “Staff membership”');
  });

  it('ifNoResponse noChange keeps every undecided access', async () => {
    await resetReviews(database, t.clock, [managerReview({ autoApply: true, ifNoResponse: 'noChange' })]);
    await sweep();
    const instance = await instanceOf(db, REVIEW.manager);
    t.clock.advance({ days: 7 });
    await sweep();
    expect((await itemsOf(instance.id)).map((i) => i.outcome)).toEqual(['kept', 'kept', 'kept', 'kept', 'kept']);
    expect(await db('group_members as gm').join('groups as g', 'g.id', 'gm.group_id').where('g.key', 'staff').count('* as n')).toEqual([{ n: 5 }]);
  });

  it('without autoApply the results wait for an administrator, who applies them once', async () => {
    await resetReviews(database, t.clock, [managerReview()]);
    await sweep();
    const instance = await instanceOf(db, REVIEW.manager);
    const max = await signIn(t.app, USER.manager);
    expect((await decideItem(max, instance.id, await itemId(db, instance.id, USER.requestor), 'deny')).status).toBe(303);
    t.clock.advance({ days: 7 });
    await sweep();
    expect((await instanceOf(db, REVIEW.manager)).state).toBe('ended');
    expect(await isMember(db, USER.requestor, 'staff')).toBe(true);
    expect((await max.get(`/access-reviews/${instance.id}`)).text).toContain('Waiting for an administrator to apply them');
    expect((await max.get('/access-reviews/ended')).text).toContain('Waiting to be applied');

    const actor = systemActor('test');
    // Max owns the catalog, but a group review is not in any catalog: only administrators apply it.
    await expect(t.services.reviews.applyResults(await currentUser(USER.manager), instance.id, actor)).rejects.toMatchObject({ status: 404 });
    await expect(t.services.reviews.applyResults(await currentUser(USER.requestor), instance.id, actor)).rejects.toMatchObject({ status: 404 });
    const applied = await t.services.reviews.applyResults(await currentUser(USER.admin), instance.id, actor);
    expect(applied).toMatchObject({ kept: 2, removed: 3 });
    expect(applied.review.state).toBe('applied');
    expect(await isMember(db, USER.requestor, 'staff')).toBe(false);
    // Otto and Nina were not reviewed: their recommendation, Deny, is taken.
    for (const email of [USER.other, USER.noManager]) expect(await isMember(db, email, 'staff')).toBe(false);
    for (const email of [USER.lead, USER.manager]) expect(await isMember(db, email, 'staff')).toBe(true);
    await expect(t.services.reviews.applyResults(await currentUser(USER.admin), instance.id, actor)).rejects.toMatchObject({ status: 409, title: 'These results were already applied' });
  });

  it('lets an administrator, or the owner of the catalog, stop a review early; with autoApply its results apply at once', async () => {
    await resetReviews(database, t.clock, [specificReview()]);
    await sweep();
    const instance = await instanceOf(db, REVIEW.specific);
    const ada = await signIn(t.app, USER.admin);
    await decideItem(ada, instance.id, await itemId(db, instance.id, USER.other), 'deny', 'Gone.');
    const actor = systemActor('test');
    await expect(t.services.reviews.applyResults(await currentUser(USER.admin), instance.id, actor)).rejects.toMatchObject({ status: 409, title: 'This review has not ended' });
    await expect(t.services.reviews.stopReview(await currentUser(USER.requestor), instance.id, actor)).rejects.toMatchObject({ status: 404 });
    await expect(t.services.reviews.stopReview(await currentUser(USER.approver), instance.id, actor)).rejects.toMatchObject({ status: 404 });
    t.clock.advance({ days: 2 });
    // Max owns the General catalog, which holds the Source Repository.
    const stopped = await t.services.reviews.stopReview(await currentUser(USER.manager), instance.id, actor);
    expect(stopped.state).toBe('applied');
    expect(new Date(stopped.endedAt!).toISOString()).toBe('2027-01-17T09:00:00.000Z');
    expect((await liveAssignment(db, USER.other, PKG.repo))?.state).toBe('expired');
    expect(await db('audit_log').where({ target_id: instance.id }).orderBy('id').pluck('action')).toEqual(['accessReview.started', 'accessReview.stopped', 'accessReview.applied']);
    await expect(t.services.reviews.stopReview(await currentUser(USER.admin), instance.id, actor)).rejects.toMatchObject({ status: 409 });
    // Decisions after the stop are refused.
    const late = await decideItem(ada, instance.id, await itemId(db, instance.id, USER.lead), 'deny', 'Too late.');
    expect(late.status).toBe(409);
    expect(late.text).toContain('The review ended and its results were applied, so decisions can no longer be changed.');
  });

  it('refuses decisions once the review has ended, even before the sweep noticed (the end wins)', async () => {
    await resetReviews(database, t.clock, [specificReview()]);
    await sweep();
    const instance = await instanceOf(db, REVIEW.specific);
    const ada = await signIn(t.app, USER.admin);
    const otto = await itemId(db, instance.id, USER.other);
    const page = await ada.get(`/access-reviews/${instance.id}/items/${otto}`);
    t.clock.advance({ days: 14 });
    const res = await ada.post(`/access-reviews/${instance.id}/items/${otto}`).type('form').send({ _csrf: csrfFrom(page.text), decision: 'deny', justification: 'Gone.' });
    expect(res.status).toBe(409);
    expect(res.text).toContain('This review has ended');
    expect((await instanceOf(db, REVIEW.specific)).state).toBe('applied');
    expect(await db('access_review_items').where({ id: otto }).first('decision', 'outcome')).toEqual({ decision: null, outcome: 'kept' });
    expect((await liveAssignment(db, USER.other, PKG.repo))?.state).toBe('delivered');
    expect(await db('access_review_decisions').where({ item_id: otto }).count('* as n')).toEqual([{ n: 0 }]);
    const accept = await ada.post(`/access-reviews/${instance.id}/accept-recommendations`).type('form').send({ _csrf: csrfFrom(page.text) });
    expect(accept.status).toBe(409);
  });

  it('reminds reviewers with undecided items once, at the midpoint', async () => {
    await resetReviews(database, t.clock, [managerReview()]);
    await sweep();
    const instance = await instanceOf(db, REVIEW.manager);
    const apu = await signIn(t.app, USER.approver);
    await decideItem(apu, instance.id, await itemId(db, instance.id, USER.noManager), 'approve');
    await decideItem(apu, instance.id, await itemId(db, instance.id, USER.manager), 'approve');
    t.clock.advance({ days: 3, hours: 11 });
    expect((await sweep()).reviewRemindersSent).toBe(0);
    t.clock.advance({ hours: 1 });
    expect((await sweep()).reviewRemindersSent).toBe(1);
    expect((await sweep()).reviewRemindersSent).toBe(0);
    const reminders = await mailTo(USER.manager, 'accessReviewReminder');
    expect(reminders.map((m) => m.subject)).toEqual(['Reminder: Review access by 22 January 2027']);
    expect(reminders[0].text).toContain('3 of the 3 people you review still need a decision');
    expect(await mailTo(USER.approver, 'accessReviewReminder')).toHaveLength(0);
  });
});

describe('editing a review while an instance runs', () => {
  const ended = '2027-01-29T09:00:00Z';
  const nextStart = '2027-02-15T09:00:00Z';
  const nextEnd = '2027-03-01T09:00:00Z';

  it('ends the running instance with the “if nobody responds” it started with; the next instance takes the new one', async () => {
    await resetReviews(database, t.clock, [specificReview()]);
    await sweep();
    const first = await instanceOf(db, REVIEW.specific);
    const ada = await signIn(t.app, USER.admin);
    expect((await ada.get(`/access-reviews/${first.id}`)).text).toContain('Access that nobody reviews by then stays as it is.');

    await editSpecificReview({ ifNoResponse: 'removeAccess' });
    expect(await db('access_reviews').where({ id: REVIEW.specific }).first('if_no_response')).toEqual({ if_no_response: 'removeAccess' });
    // The reviewers were told that undecided access stays: the running instance still says so.
    const running = await ada.get(`/access-reviews/${first.id}`);
    expect(running.text).toContain('Access that nobody reviews by then stays as it is.');
    expect(running.text).not.toContain('will be removed');

    t.clock.set(ended);
    expect((await sweep()).reviewsEnded).toBe(1);
    expect((await instanceOf(db, REVIEW.specific)).state).toBe('applied');
    expect((await itemsOf(first.id)).map((i) => [i.email, i.decision, i.outcome])).toEqual([
      [USER.lead, null, 'kept'],
      [USER.manager, null, 'kept'],
      [USER.noManager, null, 'kept'],
      [USER.other, null, 'kept'],
    ]);
    for (const email of [USER.other, USER.noManager, USER.lead]) expect((await liveAssignment(db, email, PKG.repo))?.state).toBe('delivered');
    expect((await liveAssignment(db, USER.manager, PKG.adminOnly))?.state).toBe('delivered');

    // The next occurrence starts with the definition as saved.
    t.clock.set(nextStart);
    await sweep();
    const second = await instanceOf(db, REVIEW.specific);
    expect(second.id).not.toBe(first.id);
    expect(await db('access_review_instances').where({ id: second.id }).first('if_no_response')).toEqual({ if_no_response: 'removeAccess' });
    expect((await ada.get(`/access-reviews/${second.id}`)).text).toContain('Access that nobody reviews by then will be removed.');
    t.clock.set(nextEnd);
    expect((await sweep()).reviewsEnded).toBe(1);
    expect((await itemsOf(second.id)).map((i) => i.outcome)).toEqual(['removed', 'removed', 'removed', 'removed']);
    for (const email of [USER.other, USER.noManager, USER.lead]) expect(await liveAssignment(db, email, PKG.repo)).toMatchObject({ state: 'expired', end_reason: 'review' });
    expect(await liveAssignment(db, USER.manager, PKG.adminOnly)).toMatchObject({ state: 'expired', end_reason: 'review' });
  });

  it('ends the running instance within the scope it started with; the next instance reviews the new scope', async () => {
    await resetReviews(database, t.clock, [specificReview()]);
    await sweep();
    const first = await instanceOf(db, REVIEW.specific);
    const ada = await signIn(t.app, USER.admin);
    expect((await decideItem(ada, first.id, await itemId(db, first.id, USER.other), 'deny', 'Left the project.')).status).toBe(303);
    const otto = (await liveAssignment(db, USER.other, PKG.repo))!;

    await editSpecificReview({ scope: `accessPackage:${PKG.adminOnly}` });
    expect(await db('access_reviews').where({ id: REVIEW.specific }).first('scope_type', 'scope_access_package_id', 'scope_resource_id')).toEqual({ scope_type: 'accessPackage', scope_access_package_id: PKG.adminOnly, scope_resource_id: null });
    // The reviewer page names what the instance reviews, as when it started.
    const running = await ada.get(`/access-reviews/${first.id}`);
    expect(running.text).toContain('People with roles in Source Repository');
    expect(running.text).not.toContain('Repository owners');
    expect((await ada.get('/access-reviews')).text).toContain('People with roles in Source Repository');
    // So does the administrator's confirmation before stopping it.
    const stopPage = await ada.get(`/admin/access-reviews/${REVIEW.specific}/instances/${first.id}/stop`);
    expect(stopPage.status).toBe(200);
    expect(stopPage.text).toContain('People with roles in Source Repository');
    expect(stopPage.text).not.toContain('Repository owners');

    t.clock.set(ended);
    expect((await sweep()).reviewsEnded).toBe(1);
    expect(await itemsOf(first.id)).toMatchObject([
      { email: USER.lead, outcome: 'kept' },
      { email: USER.manager, outcome: 'kept' },
      { email: USER.noManager, outcome: 'kept' },
      { email: USER.other, decision: 'deny', outcome: 'removed' },
    ]);
    // Denied is removed: Otto's repository assignment ends, his grants are revoked.
    expect(await db('assignments').where({ id: otto.id }).first('state', 'end_reason')).toEqual({ state: 'expired', end_reason: 'review' });
    expect(await db('assignment_grants').where({ assignment_id: otto.id }).whereNull('revoked_at').count('* as n')).toEqual([{ n: 0 }]);
    for (const email of [USER.noManager, USER.lead]) expect((await liveAssignment(db, email, PKG.repo))?.state).toBe('delivered');
    const after = await ada.get(`/access-reviews/${first.id}`);
    expect(after.text).toContain('People with roles in Source Repository');
    expect(after.text).toContain('Access removed');
    expect((await ada.get('/access-reviews/ended')).text).toContain('People with roles in Source Repository');

    // The next occurrence reviews the package the review covers now.
    t.clock.set(nextStart);
    await sweep();
    const second = await instanceOf(db, REVIEW.specific);
    expect(second.id).not.toBe(first.id);
    expect(await db('access_review_instances').where({ id: second.id }).first('scope_type', 'scope_access_package_id', 'scope_resource_id')).toEqual({ scope_type: 'accessPackage', scope_access_package_id: PKG.adminOnly, scope_resource_id: null });
    expect((await itemsOf(second.id)).map((i) => [i.email, i.access_label])).toEqual([[USER.manager, 'Repository owners']]);
    const page = await ada.get(`/access-reviews/${second.id}`);
    expect(page.text).toContain('Assignments of the access package Repository owners');
    expect(page.text).not.toContain('People with roles in Source Repository');
  });
});

describe('what an instance reviewed, removed later', () => {
  it('keeps the past instances of a group review, their items and decisions, when the group they reviewed is removed', async () => {
    await resetReviews(database, t.clock, [managerReview()]);
    await sweep();
    const first = await instanceOf(db, REVIEW.manager);
    const items = Number((await db('access_review_items').where({ instance_id: first.id }).count('* as n'))[0].n);
    expect(items).toBeGreaterThan(0);
    // The review moved on to another group; then the one it reviewed goes (as an import would remove it).
    const staff = await db('groups').where({ key: 'staff' }).first('id', 'directory_id');
    const [other] = await db('groups').insert({ directory_id: staff.directory_id, key: 'staff-next', name: 'Staff (next)' }).returning('id');
    await db('access_reviews').where({ id: REVIEW.manager }).update({ scope_group_id: other.id });
    await db('groups').where({ id: staff.id }).delete();
    expect(await db('access_review_instances').where({ id: first.id }).first('scope_type', 'scope_group_id')).toEqual({ scope_type: 'group', scope_group_id: null });
    expect(Number((await db('access_review_items').where({ instance_id: first.id }).count('* as n'))[0].n)).toBe(items);
    const max = await signIn(t.app, USER.manager);
    const page = await max.get(`/access-reviews/${first.id}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Members of the group access that no longer exists');
    await resetReviews(database, t.clock, []);
  });
});

describe('reminders', () => {
  it('counts what is left: “the person you review” for one, “1 of the 2 people” and “3 of the 3 people” for more', async () => {
    await resetReviews(database, t.clock, [managerReview(), specificReview({ name: 'Repository owners check', scope: { accessPackage: PKG.adminOnly }, reviewers: { type: 'specific', users: [USER.admin] } })]);
    await sweep();
    const staff = await instanceOf(db, REVIEW.manager);
    const apu = await signIn(t.app, USER.approver);
    await decideItem(apu, staff.id, await itemId(db, staff.id, USER.noManager), 'approve');
    // The staff review (7 days) is past its midpoint; the owners review (14 days) reaches it on day 7.
    t.clock.advance({ days: 4 });
    expect((await sweep()).reviewRemindersSent).toBe(1);
    const [apuMail] = await mailTo(USER.approver, 'accessReviewReminder');
    expect(apuMail.text).toContain('In the access review “Staff membership”, 1 of the 2 people you review still needs a decision.');
    const [maxMail] = await mailTo(USER.manager, 'accessReviewReminder');
    expect(maxMail.text).toContain('In the access review “Staff membership”, 3 of the 3 people you review still need a decision.');
    expect(await mailTo(USER.admin, 'accessReviewReminder')).toHaveLength(0);

    t.clock.set('2027-01-22T09:00:00Z');
    expect((await sweep()).reviewRemindersSent).toBe(1);
    const adaMail = await mailTo(USER.admin, 'accessReviewReminder');
    expect(adaMail).toHaveLength(1);
    expect(adaMail[0].text).toContain('In the access review “Repository owners check”, the person you review still needs a decision.');
    expect(adaMail[0].text).not.toContain('1 of the');
    expect(adaMail[0].html).toContain('the person you review still needs a decision.');
  });
});

describe('each reviewer’s progress, kept as items are assigned, decided and removed', () => {
  const PROGRESS_RULE = 'a reviewer’s progress in a review counts their items';
  const progressOf = async (instanceId: string) => {
    const rows = await db('access_review_progress as m').join('users as u', 'u.id', 'm.user_id').where('m.instance_id', instanceId).orderBy('u.email').select('u.email', 'm.total', 'm.decided', 'm.recommendable');
    return Object.fromEntries(rows.map((r) => [r.email, `${r.decided}/${r.total}, ${r.recommendable} recommended`]));
  };
  const breaches = async () => (await checkIntegrity(db)).filter((b) => b.rule === PROGRESS_RULE);

  it('counts each reviewer’s items and decisions through Deny, a changed decision, accepted recommendations and the end', async () => {
    await resetReviews(database, t.clock, [managerReview()]);
    await sweep();
    const instanceId = (await instanceOf(db, REVIEW.manager)).id;
    expect(await progressOf(instanceId)).toEqual({ [USER.approver]: '0/2, 2 recommended', [USER.manager]: '0/3, 3 recommended' });

    const max = await signIn(t.app, USER.manager);
    const lia = await itemId(db, instanceId, USER.lead);
    expect((await decideItem(max, instanceId, lia, 'deny', 'Left the team.')).status).toBe(303);
    expect(await progressOf(instanceId)).toEqual({ [USER.approver]: '0/2, 2 recommended', [USER.manager]: '1/3, 2 recommended' });
    expect((await decideItem(max, instanceId, lia, 'approve', 'Stays after all.')).status).toBe(303);
    expect(await progressOf(instanceId)).toEqual({ [USER.approver]: '0/2, 2 recommended', [USER.manager]: '1/3, 2 recommended' });

    const page = await max.get(`/access-reviews/${instanceId}`);
    expect(page.text).toContain('1 of 3 people reviewed');
    await max.post(`/access-reviews/${instanceId}/accept-recommendations`).type('form').send({ _csrf: csrfFrom(page.text) });
    expect(await progressOf(instanceId)).toEqual({ [USER.approver]: '0/2, 2 recommended', [USER.manager]: '3/3, 0 recommended' });
    expect((await max.get('/access-reviews')).text).toContain('3 of 3 reviewed');

    t.clock.advance({ days: 7 });
    await sweep();
    expect(await progressOf(instanceId)).toEqual({ [USER.approver]: '0/2, 2 recommended', [USER.manager]: '3/3, 0 recommended' });
    expect(await breaches()).toEqual([]);
  });

  it('counts again when a person is deleted, whether they were reviewed, reviewing, or both (self-review), and when an instance is', async () => {
    await resetReviews(database, t.clock, [managerReview(), selfReview()]);
    await sweep();
    const manager = (await instanceOf(db, REVIEW.manager)).id;
    const self = (await instanceOf(db, REVIEW.self)).id;
    expect(await progressOf(self)).toEqual({ [USER.other]: '0/1, 1 recommended', [USER.requestor]: '0/1, 1 recommended' });
    const rita = await signIn(t.app, USER.requestor);
    expect((await decideItem(rita, self, await itemId(db, self, USER.requestor), 'approve', 'Still editing.')).status).toBe(303);

    // Rita is reviewed in both reviews and reviews herself in one; Apu only reviews. Portico keeps
    // people who held access, so deleting them here takes their assignments first.
    await db('assignments').where({ user_id: await userId(db, USER.requestor) }).delete();
    await db('users').where({ email: USER.requestor }).delete();
    expect(await progressOf(self)).toEqual({ [USER.other]: '0/1, 1 recommended' });
    expect(await progressOf(manager)).toEqual({ [USER.approver]: '0/2, 2 recommended', [USER.manager]: '0/2, 2 recommended' });
    await db('users').where({ email: USER.approver }).delete();
    expect(await progressOf(manager)).toEqual({ [USER.manager]: '0/2, 2 recommended' });
    expect(await breaches()).toEqual([]);

    await db('access_review_instances').where({ id: manager }).delete();
    expect(await db('access_review_progress').where({ instance_id: manager })).toEqual([]);
    expect(await breaches()).toEqual([]);
  });

  it('is reported by the integrity checker when it does not match the items', async () => {
    await resetReviews(database, t.clock, [managerReview()]);
    await sweep();
    const instanceId = (await instanceOf(db, REVIEW.manager)).id;
    await db('access_review_progress').where({ instance_id: instanceId, user_id: await userId(db, USER.manager) }).update({ decided: 2 });
    expect((await breaches()).map((b) => b.count)).toEqual([1]);
    await db.raw('select access_review_progress_recount(?::uuid[])', [[instanceId]]);
    expect(await breaches()).toEqual([]);
  });
});

describe('the demo directory', () => {
  it('starts its reviews for the right people: managers, the CRM owner, self-review, fallback', async () => {
    await seedDirectory(database, JSON.parse(readFileSync(DEMO_DIRECTORY_FILE, 'utf8')), t.clock);
    await sweep();
    const pending = async (email: string) => {
      const agent = await signIn(t.app, email, { password: 'portico-demo-password' });
      const page = await agent.get('/access-reviews');
      return [...page.text.matchAll(/<th scope="row"><a href="\/access-reviews\/[0-9a-f-]+">([^<]+)<\/a>/g)].map((m) => m[1]);
    };
    expect(await pending('mateo.manager@northwind.example')).toEqual(['All Engineering membership']);
    expect(await pending('olga.owner@northwind.example')).toEqual(['Northwind CRM users']);
    expect((await pending('carla.chief@northwind.example')).sort()).toEqual(['All Engineering membership', 'Review your access']);
    expect(await pending('ada.admin@northwind.example')).toEqual(['All Engineering membership']);
    expect(await pending('lars.leaver@northwind.example')).toEqual([]);
    const crm = await db('access_review_items as it')
      .join('access_review_instances as i', 'i.id', 'it.instance_id')
      .join('users as u', 'u.id', 'it.subject_user_id')
      .where('i.access_review_id', 'daf8c5f6-f7be-45b2-93b0-88e1cfb8056d')
      .orderBy('u.email')
      .select('u.email', 'it.recommendation');
    expect(crm).toEqual([
      { email: 'lars.leaver@northwind.example', recommendation: 'deny' },
      { email: 'sofia.sales@northwind.example', recommendation: 'approve' },
    ]);
    // The production review starts in five days.
    expect(await db('access_review_instances').where({ access_review_id: '74433c99-b2da-4bfb-b238-aa8bd9a064d8' }).count('* as n')).toEqual([{ n: 0 }]);
    await db('directories').where({ hint: 'northwind.example' }).delete();
  });
});
