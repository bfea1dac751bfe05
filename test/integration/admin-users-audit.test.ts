import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/connect.ts';
import { createTestDatabase } from '../support/db.ts';
import { createTestApp, csrfFrom, seedDirectory, signIn, type Agent, type TestApp } from '../support/app.ts';
import { fabrikam, PKG, USER, withOtherPackageIds } from '../support/fixtures.ts';
import { policyId as policyIdOf, requestId, userId as userIdOf, validWiki } from '../support/flows.ts';

let database: Database;
let t: TestApp;
let db: Database['db'];
let ada: Agent;
let max: Agent;
let rita: Agent;
let wikiRequest: string;
let canceledRequest: string;

const policyId = (pkg: string, name: string) => policyIdOf(db, pkg, name);
const userId = (email: string) => userIdOf(db, email);
const rowsOf = (html: string) => [...html.matchAll(/<tr>\s*<th scope="row"><time datetime="([^"]+)"/g)].map((m) => m[1]);
const actionsOf = (html: string) => [...html.matchAll(/<td><code>([^<]+)<\/code><\/td>/g)].map((m) => m[1]);

beforeAll(async () => {
  database = await createTestDatabase();
  db = database.db;
  t = createTestApp(database);
  await seedDirectory(database, fabrikam(), t.clock);
  await seedDirectory(database, withOtherPackageIds(fabrikam({ hint: 'elsewhere.test', name: 'Elsewhere' }), 'e1'), t.clock);
  ada = await signIn(t.app, USER.admin);
  max = await signIn(t.app, USER.manager);
  rita = await signIn(t.app, USER.requestor);
  // History for Rita: a pending request, a delivered one, one canceled by Ada, and access Ada removed.
  t.clock.set('2027-01-15T09:00:00Z');
  wikiRequest = await requestId(rita, PKG.wiki, await policyId(PKG.wiki, 'Staff: with approval'), validWiki);
  t.clock.set('2027-01-16T09:00:00Z');
  await requestId(rita, PKG.repo, await policyId(PKG.repo, 'Members'), {});
  t.clock.set('2027-01-17T09:00:00Z');
  canceledRequest = await requestId(rita, PKG.twoStage, await policyId(PKG.twoStage, 'Two stages'), { justification: 'INC-3' });
  const cancel = await ada.get(`/admin/requests/${canceledRequest}/cancel`);
  await ada.post(`/admin/requests/${canceledRequest}/cancel`).type('form').send({ _csrf: csrfFrom(cancel.text), reason: 'Use the break-glass account.' });
  t.clock.set('2027-01-18T09:00:00Z');
  const form = await ada.get(`/admin/access-packages/${PKG.billingApprove}/assignments/new`);
  await ada.post(`/admin/access-packages/${PKG.billingApprove}/assignments`).type('form').send({ _csrf: csrfFrom(form.text), email: USER.requestor, policy: await policyId(PKG.billingApprove, 'Members') });
  const a = await db('assignments').where({ access_package_id: PKG.billingApprove }).first('id');
  t.clock.set('2027-01-19T09:00:00Z');
  const remove = await ada.get(`/admin/access-packages/${PKG.billingApprove}/assignments/${a.id}/remove`);
  await ada.post(`/admin/access-packages/${PKG.billingApprove}/assignments/${a.id}/remove`).type('form').send({ _csrf: csrfFrom(remove.text) });
});
afterAll(async () => {
  await database.close();
});

describe('Users', () => {
  it('finds users by name or email, with their type and state', async () => {
    await db('users').where({ id: await userId(USER.lead) }).update({ disabled_at: new Date('2027-01-10T00:00:00Z') });
    const all = await ada.get('/admin/users');
    expect(all.status).toBe(200);
    for (const name of ['Ada Admin', 'Gus Guest', 'Lia Lead', 'Rita Requestor']) expect(all.text).toContain(`>${name}</a>`);
    expect(all.text).not.toContain('ella');
    expect(all.text).toContain('Member, administrator');
    expect(all.text).toContain('>Disabled</strong>');
    const byName = await ada.get('/admin/users?q=rita');
    expect(byName.text).toContain('>Rita Requestor</a>');
    expect(byName.text).not.toContain('>Otto Other</a>');
    const byEmail = await ada.get('/admin/users?q=OTTO.other%40');
    expect(byEmail.text).toContain('>Otto Other</a>');
    expect(byEmail.text).not.toContain('>Rita Requestor</a>');
    expect((await ada.get('/admin/users?q=zzz')).text).toContain('No user’s name or email contains “zzz”.');
    const fragment = await ada.get('/admin/users?q=gus').set('HX-Request', 'true').set('HX-Target', 'user-results');
    expect(fragment.text).not.toContain('<html');
    expect(fragment.text).toContain('Guest');
    // Screen readers hear what the search found.
    expect(fragment.text).toContain('<div id="live-status" hx-swap-oob="innerHTML">1 user shown for “gus”.</div>');
    const none = await ada.get('/admin/users?q=zzz').set('HX-Request', 'true').set('HX-Target', 'user-results');
    expect(none.text).toContain('No users match “zzz”.</div>');
    await db('users').update({ disabled_at: null });
  });

  it('pages through users by name', async () => {
    const dir = (await db('directories').where({ hint: 'fabrikam.test' }).first('id')).id;
    await db('users').insert(Array.from({ length: 30 }, (_, i) => ({ directory_id: dir, email: `zz${String(i).padStart(2, '0')}@fabrikam.test`, display_name: `Zz Bulk ${String(i).padStart(2, '0')}` })));
    const first = await ada.get('/admin/users?q=zz');
    const names = (html: string) => [...html.matchAll(/<th scope="row"><a href="\/admin\/users\/[^"]+">([^<]+)<\/a>/g)].map((m) => m[1]);
    expect(names(first.text)).toHaveLength(25);
    const next = /href="([^"]+)"[^>]*rel="next"/.exec(first.text)![1].replace(/&amp;/g, '&');
    expect(next).toContain('q=zz');
    expect(names((await ada.get(next)).text)).toEqual(['Zz Bulk 25', 'Zz Bulk 26', 'Zz Bulk 27', 'Zz Bulk 28', 'Zz Bulk 29']);
    await db('users').where('email', 'like', 'zz%').del();
  });

  it('reads a broken page key as the first page of every admin list, not as an error', async () => {
    const key = (parts: unknown[]) => Buffer.from(JSON.stringify(parts)).toString('base64url');
    const staff = (await db('groups').where({ key: 'staff' }).first('id'))?.id ?? (await db('groups').first('id')).id;
    const lists = ['/admin/users', '/admin/groups', `/admin/groups/${staff}`, `/admin/access-packages/${PKG.wiki}/assignments`];
    for (const list of lists) {
      for (const param of ['after', 'before']) {
        const res = await ada.get(`${list}?${param}=${key(['a', 'not-a-uuid'])}`);
        expect(res.status, `${list}?${param}=…`).toBe(200);
        expect(res.text, list).not.toContain('rel="prev"');
      }
    }
    expect((await ada.get(`/admin/requests?after=${key(['2027-01-01T00:00:00.000Z', 'not-a-uuid'])}`)).status).toBe(200);
  });

  it('shows everything a person holds and asked for, with history', async () => {
    const page = await ada.get(`/admin/users/${await userId(USER.requestor)}`);
    expect(page.status).toBe(200);
    const text = page.text;
    expect(text).toContain('<dt>Department</dt><dd>Engineering</dd>');
    expect(text).toContain('<dt>Cost center</dt><dd>CC-42</dd>');
    expect(text).toContain(`<a href="/admin/users/${await userId(USER.manager)}">Max Manager (max.manager@fabrikam.test)</a>`);
    const staff = (await db('groups').where({ key: 'staff' }).join('directories as d', 'd.id', 'groups.directory_id').where('d.hint', 'fabrikam.test').first('groups.id')).id;
    expect(text).toContain(`<a href="/admin/groups/${staff}">Staff</a>`);
    // Active: Repository access. Past: Billing: approve, removed by Ada.
    const active = text.slice(text.indexOf('<h2>Active access</h2>'), text.indexOf('<h2>Past access</h2>'));
    expect(active).toContain('Repository access');
    expect(active).not.toContain('Billing: approve');
    const past = text.slice(text.indexOf('<h2>Past access</h2>'), text.indexOf('<h2>Requests</h2>'));
    expect(past).toContain('Billing: approve');
    expect(past).toContain('Removed by an administrator');
    const requests = text.slice(text.indexOf('<h2>Requests</h2>'), text.indexOf('<h2>Recent activity</h2>'));
    for (const label of ['Pending approval', 'Delivered', 'Canceled']) expect(requests).toContain(`>${label}</strong>`);
    expect(requests).toContain('Assigned by an administrator');
    expect(requests).toContain('Removed by an administrator');
    expect(requests).toContain(`href="/admin/requests/${wikiRequest}"`);
    expect(requests).toContain('Ada Admin');
    const activity = text.slice(text.indexOf('<h2>Recent activity</h2>'));
    for (const action of ['request.submitted', 'request.canceled', 'assignment.removed', 'signIn.succeeded']) expect(activity).toContain(`<code>${action}</code>`);
    expect(activity).toContain('reason: Use the break-glass account.');
    expect(activity).toContain(`href="/admin/audit?person=${encodeURIComponent(USER.requestor)}"`);
  });

  it('shows a group and its members, and finds groups', async () => {
    const groups = await ada.get('/admin/groups?q=appro');
    expect(groups.status).toBe(200);
    expect(groups.text).toContain('>Approvers</a>');
    expect(groups.text).not.toContain('>Staff</a>');
    const id = /href="\/admin\/groups\/([0-9a-f-]{36})">Approvers</.exec(groups.text)![1];
    const page = await ada.get(`/admin/groups/${id}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('>Apu Approver</a>');
    expect(page.text).toContain('>Lia Lead</a>');
    expect(page.text).not.toContain('>Rita Requestor</a>');
  });

  it('is for administrators of the directory only: 404 for catalog owners, requestors and other directories', async () => {
    const ritaId = await userId(USER.requestor);
    const staff = (await db('groups').where({ key: 'staff' }).first('id')).id;
    for (const path of ['/admin/users', `/admin/users/${ritaId}`, '/admin/groups', `/admin/groups/${staff}`]) {
      expect((await max.get(path)).status, path).toBe(404);
      expect((await rita.get(path)).status, path).toBe(404);
    }
    const elsewhere = await signIn(t.app, USER.admin, { directory: 'Elsewhere' });
    expect((await elsewhere.get('/admin/users')).status).toBe(200);
    expect((await elsewhere.get(`/admin/users/${ritaId}`)).status).toBe(404);
    const theirStaff = await db('groups as g').join('directories as d', 'd.id', 'g.directory_id').where({ 'g.key': 'staff', 'd.hint': 'fabrikam.test' }).first('g.id');
    expect((await elsewhere.get(`/admin/groups/${theirStaff.id}`)).status).toBe(404);
    expect((await ada.get('/admin/users/not-a-uuid')).status).toBe(404);
  });
});

describe('the audit log', () => {
  it('lists the directory’s entries newest first, filtered by person, action, object and time', async () => {
    const all = await ada.get('/admin/audit');
    expect(all.status).toBe(200);
    const times = rowsOf(all.text);
    expect(times.length).toBeGreaterThan(5);
    expect(times).toEqual([...times].sort().reverse());
    // Only this directory: the other directory's import is not here.
    const elsewhere = (await db('directories').where({ hint: 'elsewhere.test' }).first('id')).id;
    expect(all.text).not.toContain(elsewhere);

    const byAda = await ada.get(`/admin/audit?person=${encodeURIComponent('ADA.admin@fabrikam.test')}`);
    expect(new Set(actionsOf(byAda.text))).toEqual(new Set(['signIn.succeeded', 'request.canceled', 'assignment.delivered', 'request.adminAssigned', 'request.delivered', 'assignment.removed', 'request.adminRemoved', 'request.accessEnded']));
    const cliImport = await ada.get('/admin/audit?person=test');
    expect(actionsOf(cliImport.text)).toEqual(['directory.imported']);

    const canceled = await ada.get('/admin/audit?action=request.canceled');
    expect(actionsOf(canceled.text)).toEqual(['request.canceled']);
    expect(canceled.text).toContain('reason: Use the break-glass account.');
    expect(canceled.text).toContain('state: pendingApproval → canceled');
    const family = actionsOf((await ada.get('/admin/audit?action=assignment')).text);
    expect(new Set(family)).toEqual(new Set(['assignment.delivered', 'assignment.removed']));

    const object = await ada.get(`/admin/audit?objectType=request&objectId=${canceledRequest}`);
    expect(actionsOf(object.text)).toEqual(['request.canceled', 'request.submitted']);
    expect(object.text).toContain(`href="/admin/requests/${canceledRequest}"`);

    const day = await ada.get('/admin/audit?from=2027-01-17&to=2027-01-17');
    expect(new Set(actionsOf(day.text))).toEqual(new Set(['request.submitted', 'request.canceled']));
    const after = rowsOf((await ada.get('/admin/audit?from=2027-01-19')).text);
    expect(after.every((iso) => iso >= '2027-01-19')).toBe(true);
    expect((await ada.get('/admin/audit?action=nothing.here')).text).toContain('No entries match these filters.');
  });

  it('refuses broken filters with their messages (422) and keeps what was typed', async () => {
    const cases: [string, string][] = [
      ['from=2027-02-30', 'From date must be a real date, like 2027-01-31'],
      ['to=31%2F01%2F2027', 'To date must be a real date, like 2027-01-31'],
      ['from=2027-01-20&to=2027-01-10', 'To date must be the same as or after the from date'],
      ['action=drop%20table', 'Action must be an action name such as request.canceled, or the first part of one such as request'],
      ['objectType=secrets', 'Select a kind of object from the list'],
    ];
    for (const [query, message] of cases) {
      const res = await ada.get(`/admin/audit?${query}`);
      expect(res.status, query).toBe(422);
      expect(res.text).toContain(message);
      expect(res.text).toContain('There is a problem');
      expect(actionsOf(res.text)).toEqual([]);
    }
    expect((await ada.get('/admin/audit?action=drop%20table')).text).toContain('value="drop table"');
    expect((await ada.get('/admin/audit.csv?from=2027-02-30')).status).toBe(422);
  });

  it('pages by id, 50 at a time, forwards and back', async () => {
    const dir = (await db('directories').where({ hint: 'fabrikam.test' }).first('id')).id;
    await db('audit_log').insert(Array.from({ length: 120 }, (_, i) => ({ directory_id: dir, at: new Date(Date.UTC(2027, 1, 1, 0, i)), actor_label: 'cli:bulk', action: 'bulk.entry', details: JSON.stringify({ n: i }) })));
    const first = await ada.get('/admin/audit?person=cli%3Abulk');
    const ns = (html: string) => [...html.matchAll(/&quot;n&quot;: (\d+)/g)].map((m) => Number(m[1]));
    expect(ns(first.text)).toEqual(Array.from({ length: 50 }, (_, i) => 119 - i));
    const next = /href="([^"]+)"[^>]*rel="next"/.exec(first.text)![1].replace(/&amp;/g, '&');
    expect(next).toContain('person=cli%3Abulk');
    const second = await ada.get(next);
    expect(ns(second.text)).toEqual(Array.from({ length: 50 }, (_, i) => 69 - i));
    const prev = /href="([^"]+)"[^>]*rel="prev"/.exec(second.text)![1].replace(/&amp;/g, '&');
    expect(ns((await ada.get(prev)).text)).toEqual(ns(first.text));
    const fragment = await ada.get(next).set('HX-Request', 'true').set('HX-Target', 'audit-results');
    expect(fragment.text).not.toContain('<html');
    expect(ns(fragment.text)).toEqual(ns(second.text));
    expect(fragment.text).toContain('>50 entries shown; more on the next page.</div>');
  });

  it('downloads the filtered entries as CSV that spreadsheets cannot run', async () => {
    await db('users').where({ id: await userId(USER.other) }).update({ display_name: '=HYPERLINK("http://evil.test","x")' });
    await signIn(t.app, USER.other);
    const res = await ada.get(`/admin/audit.csv?person=${encodeURIComponent(USER.other)}`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="audit-fabrikam\.test-\d{4}-\d{2}-\d{2}\.csv"$/);
    expect(res.headers['cache-control']).toBe('no-store');
    const lines = res.text.replace(/^\uFEFF/, '').trimEnd().split('\r\n');
    expect(lines[0]).toBe('id,time (UTC),actor,actor name,action,object type,object id,ip,details');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain(`${USER.other},"'=HYPERLINK(""http://evil.test"",""x"")",signIn.succeeded,user,`);
    expect(res.text).not.toMatch(/,=HYPERLINK/);
    const all = await ada.get('/admin/audit.csv?action=request');
    const rows = all.text.trimEnd().split('\r\n').slice(1);
    expect(rows.length).toBeGreaterThan(3);
    expect(rows.every((r) => /^\d+,[^,]+,[^,]*,[^,]*,request\./.test(r) || r.includes(',request.'))).toBe(true);
    const ids = rows.map((r) => Number(r.split(',')[0]));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
  });

  it('is for administrators only', async () => {
    for (const path of ['/admin/audit', '/admin/audit.csv', '/admin/audit?action=request']) {
      expect((await max.get(path)).status, path).toBe(404);
      expect((await rita.get(path)).status, path).toBe(404);
    }
  });
});
