import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/connect.ts';
import { insertRequest } from '../../src/requests/data.ts';
import { createTestDatabase } from '../support/db.ts';
import { createTestApp, csrfFrom, seedDirectory, signIn, type Agent, type TestApp } from '../support/app.ts';
import { fabrikam, PKG, USER } from '../support/fixtures.ts';
import { clearActivity, decide, policyId as policyIdOf, requestId, userId as userIdOf, validWiki } from '../support/flows.ts';
import { mailTo as readMail } from '../support/mail.ts';

let database: Database;
let t: TestApp;
let db: Database['db'];
let ada: Agent;
let max: Agent;
let rita: Agent;
const START = '2027-01-15T09:00:00Z';

const policyId = (pkg: string, name: string) => policyIdOf(db, pkg, name);
const userId = (email: string) => userIdOf(db, email);
const stateOf = async (id: string) => (await db('requests').where({ id }).first('state')).state as string;
const mailTo = (email: string, kind?: string) => readMail(t, email, kind);

async function cancelForm(agent: Agent, id: string) {
  const page = await agent.get(`/admin/requests/${id}/cancel`);
  return { page, post: (reason: string) => agent.post(`/admin/requests/${id}/cancel`).type('form').send({ _csrf: csrfFrom(page.text), reason }) };
}

/** A request for the Archive catalog's package (its catalog is disabled, so nobody can submit one now). */
async function archivedRequest(): Promise<string> {
  const dir = (await db('directories').where({ hint: 'fabrikam.test' }).first('id')).id;
  return insertRequest(db, {
    directoryId: dir,
    accessPackageId: PKG.archived,
    policyId: await policyId(PKG.archived, 'Members'),
    targetUserId: await userId(USER.other),
    requestedById: await userId(USER.other),
    type: 'userAdd',
    state: 'denied',
    justification: null,
    answers: [],
    requestorAttributes: [],
    requestedStart: null,
    requestedEnd: null,
    expiration: { kind: 'never' },
    resubmitsRequestId: null,
    submissionKey: null,
    currentStage: null,
    submittedAt: new Date('2027-01-01T00:00:00Z'),
  });
}

beforeAll(async () => {
  database = await createTestDatabase();
  db = database.db;
  t = createTestApp(database);
  await seedDirectory(database, fabrikam(), t.clock);
  ada = await signIn(t.app, USER.admin);
  max = await signIn(t.app, USER.manager);
  rita = await signIn(t.app, USER.requestor);
});
afterAll(async () => {
  await database.close();
});
beforeEach(async () => {
  await clearActivity(db);
  t.clock.set(START);
});

describe('the Requests list', () => {
  it('shows every request in scope, newest first, filtered by state, catalog and package', async () => {
    const wiki = await requestId(rita, PKG.wiki, await policyId(PKG.wiki, 'Staff: with approval'), validWiki);
    t.clock.advance({ minutes: 5 });
    const repo = await requestId(rita, PKG.repo, await policyId(PKG.repo, 'Members'), {});
    const archived = await archivedRequest();

    const all = await ada.get('/admin/requests');
    expect(all.status).toBe(200);
    const order = [repo, wiki, archived].map((id) => all.text.indexOf(`/admin/requests/${id}"`));
    expect(order.every((i) => i > 0)).toBe(true);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(all.text).toContain('>Pending approval</strong>');
    expect(all.text).toContain('>Delivered</strong>');

    const pending = await ada.get('/admin/requests?state=pendingApproval');
    expect(pending.text).toContain(`/admin/requests/${wiki}"`);
    expect(pending.text).not.toContain(`/admin/requests/${repo}"`);
    const general = (await db('catalogs').where({ name: 'General' }).first('id')).id;
    const archive = (await db('catalogs').where({ name: 'Archive' }).first('id')).id;
    const byCatalog = await ada.get(`/admin/requests?catalog=${archive}`);
    expect(byCatalog.text).toContain(`/admin/requests/${archived}"`);
    expect(byCatalog.text).not.toContain(`/admin/requests/${wiki}"`);
    const byPackage = await ada.get(`/admin/requests?package=${PKG.repo}&catalog=${general}`);
    expect(byPackage.text).toContain(`/admin/requests/${repo}"`);
    expect(byPackage.text).not.toContain(`/admin/requests/${wiki}"`);
    const nothing = await ada.get(`/admin/requests?state=canceled`);
    expect(nothing.text).toContain('No requests match these filters.');
    // Filters that are not states or ids filter nothing.
    expect((await ada.get('/admin/requests?state=bogus&package=x')).text).toContain(`/admin/requests/${archived}"`);
    const fragment = await ada.get('/admin/requests?state=delivered').set('HX-Request', 'true').set('HX-Target', 'request-results');
    expect(fragment.text).not.toContain('<html');
    expect(fragment.text).toContain(`/admin/requests/${repo}"`);
  });

  it('pages through requests, 25 at a time', async () => {
    const dir = (await db('directories').where({ hint: 'fabrikam.test' }).first('id')).id;
    const pol = await policyId(PKG.repo, 'Members');
    const target = await userId(USER.other);
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      ids.push(
        await insertRequest(db, {
          directoryId: dir, accessPackageId: PKG.repo, policyId: pol, targetUserId: target, requestedById: target, type: 'userAdd', state: 'denied',
          justification: null, answers: [], requestorAttributes: [], requestedStart: null, requestedEnd: null, expiration: { kind: 'never' },
          resubmitsRequestId: null, submissionKey: null, currentStage: null, submittedAt: new Date(Date.UTC(2027, 0, 1, 0, i)),
        }),
      );
    }
    const idsOn = (html: string) => [...html.matchAll(/href="\/admin\/requests\/([0-9a-f-]{36})"/g)].map((m) => m[1]);
    const first = await ada.get('/admin/requests?state=denied');
    expect(idsOn(first.text)).toEqual(ids.slice(5).reverse());
    const next = /href="([^"]+)"[^>]*rel="next"/.exec(first.text)![1].replace(/&amp;/g, '&');
    expect(next).toContain('state=denied');
    expect(idsOn((await ada.get(next)).text)).toEqual(ids.slice(0, 5).reverse());
  });

  it('shows catalog owners only their catalogs’ requests, and 404 for the rest', async () => {
    const wiki = await requestId(rita, PKG.wiki, await policyId(PKG.wiki, 'Staff: with approval'), validWiki);
    const archived = await archivedRequest();
    const list = await max.get('/admin/requests');
    expect(list.status).toBe(200);
    expect(list.text).toContain(`/admin/requests/${wiki}"`);
    expect(list.text).not.toContain(`/admin/requests/${archived}"`);
    expect(list.text).not.toContain('Old system');
    const archive = (await db('catalogs').where({ name: 'Archive' }).first('id')).id;
    expect((await max.get(`/admin/requests?catalog=${archive}`)).text).toContain('No requests match these filters.');
    expect((await max.get(`/admin/requests/${wiki}`)).status).toBe(200);
    expect((await max.get(`/admin/requests/${archived}`)).status).toBe(404);
    expect((await max.get(`/admin/requests/${archived}/cancel`)).status).toBe(404);
    expect((await max.get('/admin/requests/not-an-id')).status).toBe(404);
    expect((await rita.get('/admin/requests')).status).toBe(404);
    expect((await rita.get(`/admin/requests/${wiki}`)).status).toBe(404);
  });

  it('shows a request with its answers, approvers and history', async () => {
    const id = await requestId(rita, PKG.wiki, await policyId(PKG.wiki, 'Staff: with approval'), validWiki);
    const page = await ada.get(`/admin/requests/${id}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Rita Requestor</a> (rita.requestor@fabrikam.test)');
    expect(page.text).toContain('<dd>WIKI-7</dd>');
    expect(page.text).toContain('I maintain the on-call runbooks.');
    expect(page.text).toContain('Stage 1 of 1: Max Manager must decide by 29 January 2027 at 09:00 UTC');
    expect(page.text).toContain('Submitted by Rita Requestor');
    expect(page.text).toContain('>Cancel request</a>');
    // Catalog owners see no link to Users (administrators only).
    expect((await max.get(`/admin/requests/${id}`)).text).not.toContain('/admin/users/');
  });
});

describe('canceling a request on someone’s behalf', () => {
  it('needs a reason; then cancels, closes the approvers’ items, audits and tells the requestor', async () => {
    const id = await requestId(rita, PKG.wiki, await policyId(PKG.wiki, 'Staff: with approval'), validWiki);
    const { page, post } = await cancelForm(ada, id);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Are you sure you want to cancel this request on Rita Requestor’s behalf?');
    const empty = await post('   ');
    expect(empty.status).toBe(422);
    expect(empty.text).toContain('Enter the reason for canceling the request');
    const long = await post('x'.repeat(2001));
    expect(long.status).toBe(422);
    expect(long.text).toContain('Reason must be 2,000 characters or fewer');
    expect(long.text).toContain('x'.repeat(2001));
    expect(await stateOf(id)).toBe('pendingApproval');

    const res = await post('Wiki editing moved to the new platform.');
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(`/admin/requests/${id}`);
    const after = await ada.get(`/admin/requests/${id}`);
    expect(after.text).toContain('The request from Rita Requestor for Wiki editors was canceled. Rita Requestor has been told why.');
    expect(after.text).toContain('Canceled by Ada Admin');
    expect(after.text).not.toContain('>Cancel request</a>');
    expect(await stateOf(id)).toBe('canceled');
    expect(await db('request_stages').where({ request_id: id }).pluck('state')).toEqual(['canceled']);
    expect((await max.get('/approvals')).text).not.toContain(`/approvals/${id}`);

    const [entry] = await db('audit_log').where({ action: 'request.canceled', target_id: id });
    expect(entry.actor_label).toBe(USER.admin);
    expect(entry.details).toMatchObject({ reason: 'Wiki editing moved to the new platform.', onBehalfOf: USER.requestor, before: { state: 'pendingApproval' }, after: { state: 'canceled' } });
    const mail = (await mailTo(USER.requestor)).find((m) => m.kind === 'requestCanceled')!;
    expect(mail.subject).toBe('Your request for Wiki editors was canceled');
    expect(mail.text).toContain('Their reason: Wiki editing moved to the new platform.');
    expect(mail.text).toContain(`http://127.0.0.1:3000/@fabrikam.test/requests/${id}`);
    expect((await mailTo(USER.manager)).filter((m) => m.kind === 'requestCanceledApprover').map((m) => m.subject)).toEqual(['Request canceled: Wiki editors for Rita Requestor']);
    const own = await rita.get(`/requests/${id}`);
    expect(own.text).toContain('Canceled by Ada Admin');
    expect(own.text).toContain('Wiki editing moved to the new platform.');
  });

  it('answers 409 for a request decided meanwhile, and two cancels at once have one effect', async () => {
    const id = await requestId(rita, PKG.wiki, await policyId(PKG.wiki, 'Staff: with approval'), validWiki);
    const first = await cancelForm(ada, id);
    const second = await cancelForm(max, id);
    const statuses = (await Promise.all([first.post('Not needed.'), second.post('Duplicate.')])).map((r) => r.status).sort();
    expect(statuses).toEqual([303, 409]);
    expect(await db('audit_log').where({ action: 'request.canceled', target_id: id }).count('* as n')).toEqual([{ n: 1 }]);
    expect(await db('notifications').where({ kind: 'requestCanceled' }).count('* as n')).toEqual([{ n: 1 }]);

    const approved = await requestId(rita, PKG.billingSubmit, await policyId(PKG.billingSubmit, 'Members'), {});
    const form = await cancelForm(ada, approved);
    expect((await decide(await signIn(t.app, USER.approver), approved, 'approve')).status).toBe(303);
    const late = await form.post('Too late.');
    expect(late.status).toBe(409);
    expect(late.text).toContain('This request cannot be canceled');
    expect(late.text).toContain('This request was approved and the access delivered, so it can no longer be canceled. Remove the assignment instead.');
    expect(await stateOf(approved)).toBe('delivered');
    // The page of a request that cannot be canceled any more says so, without a form.
    const page = await ada.get(`/admin/requests/${approved}/cancel`);
    expect(page.text).toContain('This request is delivered, so it can no longer be canceled.');
  });

  it('lets catalog owners cancel in their catalogs only, and refuses tampered forms', async () => {
    const id = await requestId(rita, PKG.wiki, await policyId(PKG.wiki, 'Staff: with approval'), validWiki);
    const { page } = await cancelForm(max, id);
    const twice = await max.post(`/admin/requests/${id}/cancel`).type('form').send(`_csrf=${encodeURIComponent(csrfFrom(page.text))}&reason=a&reason=b`);
    expect(twice.status).toBe(400);
    const noToken = await max.post(`/admin/requests/${id}/cancel`).type('form').send({ reason: 'No token.' });
    expect(noToken.status).toBe(403);
    const byRita = await rita.post(`/admin/requests/${id}/cancel`).type('form').send({ _csrf: csrfFrom((await rita.get('/')).text), reason: 'Mine.' });
    expect(byRita.status).toBe(404);
    expect(await stateOf(id)).toBe('pendingApproval');
    const done = await max.post(`/admin/requests/${id}/cancel`).type('form').send({ _csrf: csrfFrom(page.text), reason: 'Handled by the service desk.' });
    expect(done.status).toBe(303);
    expect(await stateOf(id)).toBe('canceled');
  });
});
