import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/connect.ts';
import { createTestDatabase } from '../support/db.ts';
import { createTestApp, csrfFrom, seedDirectory, signIn, type Agent, type TestApp } from '../support/app.ts';
import { fabrikam, PKG, USER, withOtherPackageIds } from '../support/fixtures.ts';
import { clearActivity, policyId as policyIdOf, requestId, userId as userIdOf } from '../support/flows.ts';
import { mailTo as readMail } from '../support/mail.ts';
import { checkIntegrity } from '../../src/integrity/checks.ts';
import { isLiveAssignmentTaken } from '../../src/assignments/delivery.ts';

let database: Database;
let t: TestApp;
let db: Database['db'];
let ada: Agent;
let max: Agent;
const START = '2027-01-15T09:00:00Z';

const policyId = (pkg: string, name: string) => policyIdOf(db, pkg, name);
const userId = (email: string) => userIdOf(db, email);
const list = (pkg: string) => `/admin/access-packages/${pkg}/assignments`;
const mailTo = (email: string, kind?: string) => readMail(t, email, kind);
const liveOf = async (email: string, pkg: string) =>
  db('assignments').where({ user_id: await userId(email), access_package_id: pkg }).whereIn('state', ['scheduled', 'delivered']).first();

/** Opens "Assign a user" and posts it with these fields, as a browser would. */
async function assign(agent: Agent, pkg: string, fields: Record<string, string | string[]>) {
  const form = await agent.get(`${list(pkg)}/new`);
  return agent.post(list(pkg)).type('form').send({ _csrf: csrfFrom(form.text), ...fields });
}

async function assignOk(agent: Agent, pkg: string, email: string, policy: string, extra: Record<string, string> = {}) {
  const res = await assign(agent, pkg, { email, policy: await policyId(pkg, policy), ...extra });
  expect(res.status, res.text.slice(0, 3000)).toBe(303);
  return res;
}

async function removeForm(agent: Agent, pkg: string, assignmentId: string) {
  const page = await agent.get(`${list(pkg)}/${assignmentId}/remove`);
  return { page, post: () => agent.post(`${list(pkg)}/${assignmentId}/remove`).type('form').send({ _csrf: csrfFrom(page.text) }) };
}

beforeAll(async () => {
  database = await createTestDatabase();
  db = database.db;
  t = createTestApp(database);
  await seedDirectory(database, fabrikam(), t.clock);
  await seedDirectory(database, withOtherPackageIds(fabrikam({ hint: 'elsewhere.test', name: 'Elsewhere' }), 'e1'), t.clock);
  ada = await signIn(t.app, USER.admin);
  max = await signIn(t.app, USER.manager);
});
afterAll(async () => {
  await database.close();
});
beforeEach(async () => {
  await clearActivity(db);
  await db('users').update({ disabled_at: null });
  t.clock.set(START);
});

describe('the assignments of a package', () => {
  it('lists who holds it, filtered by state and by name or email', async () => {
    await assignOk(ada, PKG.wiki, USER.requestor, 'Staff: one day, no approval');
    await assignOk(ada, PKG.wiki, USER.other, 'Staff: with approval', { startDate: '2027-02-01' });
    const page = await ada.get(list(PKG.wiki));
    expect(page.status).toBe(200);
    expect(page.text).toContain('Rita Requestor');
    expect(page.text).toContain('Otto Other');
    expect(page.text).toContain('>Scheduled</strong>');
    expect(page.text).toContain('>Delivered</strong>');
    expect(page.text).toContain('Assigned by an administrator');
    const scheduled = await ada.get(`${list(PKG.wiki)}?state=scheduled`);
    expect(scheduled.text).toContain('Otto Other');
    expect(scheduled.text).not.toContain('Rita Requestor');
    const byEmail = await ada.get(`${list(PKG.wiki)}?q=RITA.requestor`);
    expect(byEmail.text).toContain('Rita Requestor');
    expect(byEmail.text).not.toContain('Otto Other');
    const none = await ada.get(`${list(PKG.wiki)}?q=100%25`);
    expect(none.text).toContain('No assignments match these filters.');
    const fragment = await ada.get(`${list(PKG.wiki)}?state=all`).set('HX-Request', 'true').set('HX-Target', 'assignment-results');
    expect(fragment.text).not.toContain('<html');
    expect(fragment.text).toContain('Rita Requestor');
  });

  it('pages through many assignments by name, forwards and back', async () => {
    const dir = (await db('directories').where({ hint: 'fabrikam.test' }).first('id')).id;
    const existing = await db('users').where({ directory_id: dir, email: 'bulk00@fabrikam.test' }).first('id');
    if (!existing) {
      await db('users').insert(Array.from({ length: 30 }, (_, i) => ({ directory_id: dir, email: `bulk${String(i).padStart(2, '0')}@fabrikam.test`, display_name: `Bulk ${String(i).padStart(2, '0')}` })));
    }
    const people = await db('users').where({ directory_id: dir }).where('email', 'like', 'bulk%').pluck('id');
    const pol = await policyId(PKG.repo, 'Members');
    await db('assignments').insert(people.map((id: string) => ({ directory_id: dir, access_package_id: PKG.repo, policy_id: pol, user_id: id, origin: 'import', state: 'delivered', starts_at: t.clock.now() })));
    const namesOn = (html: string) => [...html.matchAll(/<th scope="row">([^<]+)<div/g)].map((m) => m[1]);
    const first = await ada.get(list(PKG.repo));
    expect(namesOn(first.text)).toHaveLength(25);
    const next = /href="([^"]+)"[^>]*rel="next"/.exec(first.text)![1].replace(/&amp;/g, '&');
    const second = await ada.get(next);
    expect(namesOn(second.text)).toEqual(['Bulk 25', 'Bulk 26', 'Bulk 27', 'Bulk 28', 'Bulk 29']);
    expect(second.text).not.toContain('rel="next"');
    const prev = /href="([^"]+)"[^>]*rel="prev"/.exec(second.text)![1].replace(/&amp;/g, '&');
    expect(namesOn((await ada.get(prev)).text)).toEqual(namesOn(first.text));
    expect(namesOn(first.text)[0]).toBe('Bulk 00');
  });
});

describe('assigning a user directly', () => {
  it('delivers the package at once: grants, a request in their history, an audit entry with after, and an email', async () => {
    const res = await assignOk(ada, PKG.wiki, ' Rita.Requestor@fabrikam.test ', 'Staff: one day, no approval', { justification: 'Covering for Otto.' });
    expect(res.headers.location).toBe(list(PKG.wiki));
    expect((await ada.get(list(PKG.wiki))).text).toContain('Rita Requestor now has Wiki editors.');

    const a = await liveOf(USER.requestor, PKG.wiki);
    expect(a).toMatchObject({ state: 'delivered', origin: 'admin' });
    expect(new Date(a.ends_at).toISOString()).toBe('2027-01-16T09:00:00.000Z');
    const grants = await db('assignment_grants as g').join('resource_roles as rr', 'rr.id', 'g.resource_role_id').where('g.assignment_id', a.id).whereNull('g.revoked_at').pluck('rr.name');
    expect(grants).toEqual(['Editor']);
    const request = await db('requests').where({ id: a.request_id }).first();
    expect(request).toMatchObject({ type: 'adminAdd', state: 'delivered', justification: 'Covering for Otto.', requested_by_id: await userId(USER.admin), target_user_id: await userId(USER.requestor) });

    const [entry] = await db('audit_log').where({ action: 'request.adminAssigned', target_id: a.request_id });
    expect(entry.actor_label).toBe(USER.admin);
    expect(entry.details.before).toBeNull();
    expect(entry.details.after).toMatchObject({ user: USER.requestor, policy: 'Staff: one day, no approval', state: 'delivered' });

    const [mail] = await mailTo(USER.requestor);
    expect(mail).toMatchObject({ kind: 'accessGranted', subject: 'You now have access to Wiki editors' });

    const rita = await signIn(t.app, USER.requestor);
    expect((await rita.get('/access-packages/active')).text).toContain('>Wiki editors</a>');
    const history = await rita.get(`/requests/${a.request_id}`);
    expect(history.status).toBe(200);
    expect(history.text).toContain('Assigned by Ada Admin');
    expect(history.text).toContain('Covering for Otto.');
  });

  it('schedules a later start, ends on the chosen end date, and assigns under a policy nobody may request', async () => {
    await assignOk(ada, PKG.adminOnly, USER.requestor, 'Administrators assign', { startDate: '2027-02-01', endDate: '2027-02-10' });
    const a = await liveOf(USER.requestor, PKG.adminOnly);
    expect(a.state).toBe('scheduled');
    expect(new Date(a.starts_at).toISOString()).toBe('2027-02-01T00:00:00.000Z');
    expect(new Date(a.ends_at).toISOString()).toBe('2027-02-10T23:59:59.000Z');
    expect(await db('assignment_grants').where({ assignment_id: a.id }).count('* as n')).toEqual([{ n: 0 }]);
    expect((await db('requests').where({ id: a.request_id }).first('state')).state).toBe('scheduled');
    expect(await mailTo(USER.requestor)).toEqual([]);
    expect((await ada.get(list(PKG.adminOnly))).text).toContain('Repository owners is scheduled for Rita Requestor.');

    // Today as the start is "now"; no end: the policy's (never).
    await assignOk(ada, PKG.adminOnly, USER.other, 'Administrators assign', { startDate: '2027-01-15' });
    const b = await liveOf(USER.other, PKG.adminOnly);
    expect(b.state).toBe('delivered');
    expect(b.ends_at).toBeNull();
  });

  it('refuses each broken field with its message, keeping what was typed (422, nothing written)', async () => {
    const wikiPolicy = await policyId(PKG.wiki, 'Staff: with approval');
    const cases: [Record<string, string>, string][] = [
      [{ email: '', policy: wikiPolicy }, 'Enter the email address of the person to assign'],
      [{ email: 'nobody@fabrikam.test', policy: wikiPolicy }, 'There is no user with the email address nobody@fabrikam.test in this directory'],
      [{ email: USER.requestor, policy: '' }, 'Select a policy'],
      [{ email: USER.requestor, policy: await policyId(PKG.repo, 'Members') }, 'Select one of the policies of this access package'],
      [{ email: USER.requestor, policy: 'not-a-uuid' }, 'Select one of the policies of this access package'],
      [{ email: USER.requestor, policy: wikiPolicy, startDate: '2027-02-30' }, 'Start date must be a real date, like 2027-01-31'],
      [{ email: USER.requestor, policy: wikiPolicy, startDate: '2027-01-14' }, 'Start date must be today or in the future'],
      [{ email: USER.requestor, policy: wikiPolicy, endDate: 'tomorrow' }, 'End date must be a real date, like 2027-01-31'],
      [{ email: USER.requestor, policy: wikiPolicy, startDate: '2027-02-10', endDate: '2027-02-01' }, 'End date must be the same as or after the start date'],
      [{ email: USER.requestor, policy: wikiPolicy, endDate: '2027-01-10' }, 'End date must be the same as or after the start date'],
      [{ email: USER.requestor, policy: wikiPolicy, justification: 'x'.repeat(2001) }, 'Reason must be 2,000 characters or fewer'],
    ];
    for (const [fields, message] of cases) {
      const res = await assign(ada, PKG.wiki, fields);
      expect(res.status, message).toBe(422);
      expect(res.text).toContain(message);
      expect(res.text).toContain('There is a problem');
      if (fields.email) expect(res.text).toContain(`value="${fields.email}"`);
    }
    // A user of another directory is not in this one.
    const other = (await db('directories').where({ hint: 'elsewhere.test' }).first('id')).id;
    await db('users').insert({ directory_id: other, email: 'ella@elsewhere.test', display_name: 'Ella Elsewhere' }).onConflict(['directory_id', 'email']).ignore();
    const elsewhere = await assign(ada, PKG.wiki, { email: 'ella@elsewhere.test', policy: wikiPolicy });
    expect(elsewhere.status).toBe(422);
    expect(elsewhere.text).toContain('There is no user with the email address ella@elsewhere.test in this directory');
    await db('users').where({ id: await userId(USER.lead) }).update({ disabled_at: t.clock.now() });
    const disabled = await assign(ada, PKG.wiki, { email: USER.lead, policy: wikiPolicy });
    expect(disabled.status).toBe(422);
    expect(disabled.text).toContain('Lia Lead (lia.lead@fabrikam.test) is disabled, so they cannot be given access');
    expect(await db('assignments').count('* as n')).toEqual([{ n: 0 }]);
    expect(await db('requests').count('* as n')).toEqual([{ n: 0 }]);
  });

  it('refuses a person who already has it, has an open request for it, or holds an incompatible package', async () => {
    await assignOk(ada, PKG.wiki, USER.requestor, 'Staff: with approval');
    const again = await assign(ada, PKG.wiki, { email: USER.requestor, policy: await policyId(PKG.wiki, 'Staff: with approval') });
    expect(again.status).toBe(422);
    expect(again.text).toContain('Rita Requestor already has Wiki editors until 14 February 2027');

    const otto = await signIn(t.app, USER.other);
    await requestId(otto, PKG.twoStage, await policyId(PKG.twoStage, 'Two stages'), { justification: 'On call.' });
    const open = await assign(ada, PKG.twoStage, { email: USER.other, policy: await policyId(PKG.twoStage, 'Two stages') });
    expect(open.status).toBe(422);
    expect(open.text).toContain('Otto Other has a request for Production console that is still open. Wait for it to be decided, or cancel it, before assigning the access package directly.');

    // Separation of duties: the same rule as requests, held or asked for.
    await assignOk(ada, PKG.billingApprove, USER.requestor, 'Members');
    const held = await assign(ada, PKG.billingSubmit, { email: USER.requestor, policy: await policyId(PKG.billingSubmit, 'Members') });
    expect(held.status).toBe(422);
    expect(held.text).toContain('Rita Requestor cannot be assigned Billing: submit because they have Billing: approve. The two are incompatible (separation of duties).');
    await requestId(otto, PKG.billingSubmit, await policyId(PKG.billingSubmit, 'Members'), {});
    const asked = await assign(ada, PKG.billingApprove, { email: USER.other, policy: await policyId(PKG.billingApprove, 'Members') });
    expect(asked.status).toBe(422);
    expect(asked.text).toContain('Otto Other cannot be assigned Billing: approve because they have a pending request for Billing: submit. The two are incompatible (separation of duties).');
    expect(await liveOf(USER.other, PKG.billingApprove)).toBeUndefined();
  });

  it('answers 400 to a tampered form and changes nothing', async () => {
    const form = await ada.get(`${list(PKG.wiki)}/new`);
    const res = await ada.post(list(PKG.wiki)).type('form').send(`_csrf=${encodeURIComponent(csrfFrom(form.text))}&email=${encodeURIComponent(USER.requestor)}&email=${encodeURIComponent(USER.other)}&policy=${await policyId(PKG.wiki, 'Staff: with approval')}`);
    expect(res.status).toBe(400);
    const noToken = await ada.post(list(PKG.wiki)).type('form').send({ email: USER.requestor, policy: await policyId(PKG.wiki, 'Staff: with approval') });
    expect(noToken.status).toBe(403);
    expect(await db('assignments').count('* as n')).toEqual([{ n: 0 }]);
  });

  it('gives two simultaneous assignments of the same person one effect', async () => {
    const pol = await policyId(PKG.repo, 'Members');
    const form = await ada.get(`${list(PKG.repo)}/new`);
    const post = () => ada.post(list(PKG.repo)).type('form').send({ _csrf: csrfFrom(form.text), email: USER.requestor, policy: pol });
    const statuses = (await Promise.all([post(), post()])).map((r) => r.status).sort();
    expect(statuses[0]).toBe(303);
    expect([409, 422]).toContain(statuses[1]);
    expect(await db('assignments').where({ access_package_id: PKG.repo }).count('* as n')).toEqual([{ n: 1 }]);
    expect(await db('requests').where({ type: 'adminAdd' }).count('* as n')).toEqual([{ n: 1 }]);
  });

  it('recognises the database refusing a second live assignment, as an import racing a submit or an assignment meets it', async () => {
    const form = await ada.get(`${list(PKG.repo)}/new`);
    expect((await ada.post(list(PKG.repo)).type('form').send({ _csrf: csrfFrom(form.text), email: USER.requestor, policy: await policyId(PKG.repo, 'Members') })).status).toBe(303);
    const live = await db('assignments').where({ access_package_id: PKG.repo, state: 'delivered' }).first();
    const { id: _id, ...copy } = live;
    const refusal = await db('assignments').insert(copy).then(() => null, (err: unknown) => err);
    expect(isLiveAssignmentTaken(refusal)).toBe(true);
    // Another unique refusal is not taken for it.
    const other = await db('users').insert(await db('users').where({ email: USER.requestor }).first('directory_id', 'email', 'display_name', 'type')).then(() => null, (err: unknown) => err);
    expect((other as { code?: string }).code).toBe('23505');
    expect(isLiveAssignmentTaken(other)).toBe(false);
  });
});

describe('removing an assignment', () => {
  it('ends it now: grants revoked, the removal in their history, audit with before and after, an email', async () => {
    const rita = await signIn(t.app, USER.requestor);
    const original = await requestId(rita, PKG.repo, await policyId(PKG.repo, 'Members'), {});
    const a = await liveOf(USER.requestor, PKG.repo);
    expect(a.request_id).toBe(original);
    t.clock.advance({ hours: 2 });
    const { page, post } = await removeForm(ada, PKG.repo, a.id);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Are you sure you want to remove Rita Requestor from Repository access?');
    const res = await post();
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(list(PKG.repo));
    expect((await ada.get(list(PKG.repo))).text).toContain('Rita Requestor no longer has Repository access.');

    const ended = await db('assignments').where({ id: a.id }).first();
    expect(ended).toMatchObject({ state: 'expired', end_reason: 'removedByAdmin' });
    expect(new Date(ended.ended_at).toISOString()).toBe('2027-01-15T11:00:00.000Z');
    expect(await db('assignment_grants').where({ assignment_id: a.id }).whereNull('revoked_at').count('* as n')).toEqual([{ n: 0 }]);
    const removal = await db('requests').where({ type: 'adminRemove' }).first();
    expect(removal).toMatchObject({ state: 'delivered', target_user_id: await userId(USER.requestor), access_package_id: PKG.repo });

    const [entry] = await db('audit_log').where({ action: 'assignment.removed', target_id: a.id });
    expect(entry.actor_label).toBe(USER.admin);
    expect(entry.details.before).toMatchObject({ state: 'delivered', endedAt: null });
    expect(entry.details.after).toMatchObject({ state: 'expired', endReason: 'removedByAdmin' });

    const mails = await mailTo(USER.requestor);
    expect(mails.map((m) => m.subject)).toContain('Access has ended for Repository access');
    expect(mails.find((m) => m.kind === 'accessEnded')!.text).toContain('an administrator removed it.');

    expect((await rita.get('/access-packages/expired')).text).toContain('Repository access');
    const history = await rita.get(`/requests/${original}`);
    expect(history.text).toContain('Removed by an administrator.');
    expect((await rita.get(`/requests/${removal.id}`)).text).toContain('Access removed by Ada Admin');
  });

  it('leaves ended access that nobody may request openable from the Expired tab, without Request access', async () => {
    await assignOk(ada, PKG.adminOnly, USER.requestor, 'Administrators assign');
    const rita = await signIn(t.app, USER.requestor);
    const stranger = await signIn(t.app, USER.other);
    expect((await rita.get(`/access-packages/${PKG.adminOnly}`)).text).toContain('You have access, with no end date.');
    expect((await removeForm(ada, PKG.adminOnly, (await liveOf(USER.requestor, PKG.adminOnly)).id).then((f) => f.post())).status).toBe(303);
    expect((await rita.get('/access-packages/expired')).text).toContain(`href="/access-packages/${PKG.adminOnly}"`);
    const pane = await rita.get(`/access-packages/${PKG.adminOnly}`);
    expect(pane.status).toBe(200);
    expect(pane.text).toContain('Your access to this access package has ended, and none of its policies lets you request it again.');
    expect(pane.text).not.toContain('>Request access</a>');
    // Someone who never held it still finds it unavailable.
    expect((await stranger.get(`/access-packages/${PKG.adminOnly}`)).status).toBe(404);
  });

  it('removes access before it starts: the request that scheduled it ends as Canceled, and the person is told', async () => {
    const rita = await signIn(t.app, USER.requestor);
    const original = await requestId(rita, PKG.repo, await policyId(PKG.repo, 'Members'), { specificPeriod: 'yes', startDate: '2027-02-01', endDate: '2027-02-10' });
    const a = await liveOf(USER.requestor, PKG.repo);
    expect(a.state).toBe('scheduled');
    // Its start has come, but the sweep has not started it yet: it never started either.
    t.clock.set('2027-02-01T06:00:00Z');
    const { page, post } = await removeForm(ada, PKG.repo, a.id);
    expect(page.text).toContain('Their access has not started yet, and now it will not: the request that scheduled it ends as Canceled');
    expect(page.text).not.toContain('Their access ends now');
    expect((await post()).status).toBe(303);
    expect(await db('assignments').where({ id: a.id }).first('state', 'end_reason')).toEqual({ state: 'expired', end_reason: 'removedByAdmin' });
    expect((await db('requests').where({ id: original }).first('state')).state).toBe('canceled');
    const history = await rita.get(`/requests/${original}`);
    expect(history.text).toContain('Canceled by Ada Admin');
    expect(history.text).toContain('An administrator removed the access before it started.');
    expect((await mailTo(USER.requestor)).find((m) => m.kind === 'accessEnded')!.text).toContain('an administrator removed it before it started.');
    expect(await checkIntegrity(db)).toEqual([]);
  });

  it('answers 409 when it has already ended, and two removals at once have one effect', async () => {
    await assignOk(ada, PKG.wiki, USER.requestor, 'Staff: with approval');
    const a = await liveOf(USER.requestor, PKG.wiki);
    const first = await removeForm(ada, PKG.wiki, a.id);
    const second = await removeForm(ada, PKG.wiki, a.id);
    const statuses = (await Promise.all([first.post(), second.post()])).map((r) => r.status).sort();
    expect(statuses).toEqual([303, 409]);
    const late = await first.post();
    expect(late.status).toBe(409);
    expect(late.text).toContain('This assignment has already ended');
    expect(late.text).toContain('Rita Requestor’s access to Wiki editors ended on 15 January 2027, so there is nothing to remove.');
    expect(await db('requests').where({ type: 'adminRemove' }).count('* as n')).toEqual([{ n: 1 }]);
    expect(await db('notifications').where({ kind: 'accessEnded' }).count('* as n')).toEqual([{ n: 1 }]);
    // An ended assignment's page says so, without a form.
    const page = await ada.get(`${list(PKG.wiki)}/${a.id}/remove`);
    expect(page.text).toContain('This assignment has ended, so there is nothing to remove.');
    expect(page.text).not.toContain('Remove access</button>');
  });

  it('finds an assignment only under its own package', async () => {
    await assignOk(ada, PKG.wiki, USER.requestor, 'Staff: with approval');
    const a = await liveOf(USER.requestor, PKG.wiki);
    expect((await ada.get(`${list(PKG.repo)}/${a.id}/remove`)).status).toBe(404);
    const form = await ada.get(`${list(PKG.wiki)}/${a.id}/remove`);
    expect((await ada.post(`${list(PKG.repo)}/${a.id}/remove`).type('form').send({ _csrf: csrfFrom(form.text) })).status).toBe(404);
    expect((await liveOf(USER.requestor, PKG.wiki)).state).toBe('delivered');
  });
});

describe('catalog owners', () => {
  it('assign and remove in their catalogs, and get 404 for every other catalog', async () => {
    expect((await max.get(list(PKG.wiki))).status).toBe(200);
    await assignOk(max, PKG.wiki, USER.other, 'Staff: with approval');
    const a = await liveOf(USER.other, PKG.wiki);
    expect((await db('requests').where({ id: a.request_id }).first('requested_by_id')).requested_by_id).toBe(await userId(USER.manager));
    const { post } = await removeForm(max, PKG.wiki, a.id);
    expect((await post()).status).toBe(303);

    // The Archive catalog has no owner: Max gets 404 everywhere in it, and nothing changes.
    expect((await max.get(list(PKG.archived))).status).toBe(404);
    expect((await max.get(`${list(PKG.archived)}/new`)).status).toBe(404);
    const token = csrfFrom((await max.get(list(PKG.wiki))).text);
    const refused = await max.post(list(PKG.archived)).type('form').send({ _csrf: token, email: USER.other, policy: await policyId(PKG.archived, 'Members') });
    expect(refused.status).toBe(404);
    await assignOk(ada, PKG.archived, USER.other, 'Members');
    const archived = await liveOf(USER.other, PKG.archived);
    expect((await max.get(`${list(PKG.archived)}/${archived.id}/remove`)).status).toBe(404);
    expect((await max.post(`${list(PKG.archived)}/${archived.id}/remove`).type('form').send({ _csrf: token })).status).toBe(404);
    expect((await liveOf(USER.other, PKG.archived)).state).toBe('delivered');
  });

  it('is 404 for requestors, and for administrators of another directory', async () => {
    const rita = await signIn(t.app, USER.requestor);
    expect((await rita.get(list(PKG.wiki))).status).toBe(404);
    expect((await rita.get(`${list(PKG.wiki)}/new`)).status).toBe(404);
    const other = await signIn(t.app, USER.admin, { directory: 'Elsewhere' });
    expect((await other.get(list(PKG.wiki))).status).toBe(404);
    expect((await other.get(`${list(PKG.wiki)}/new`)).status).toBe(404);
  });
});
