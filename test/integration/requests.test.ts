import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/connect.ts';
import { createTestDatabase } from '../support/db.ts';
import { createTestApp, csrfFrom, seedDirectory, signIn, type Agent, type TestApp } from '../support/app.ts';
import { fabrikam, PKG, USER, withOtherPackageIds } from '../support/fixtures.ts';
import { clearActivity, decide, policyId as policyIdOf, requestId, requestId as submittedRequestId, submitRequest, userId as userIdOf, validWiki } from '../support/flows.ts';
import { sweepAndQueueEmails } from '../../src/lifecycle/sweep.ts';
import { createLogger } from '../../src/log.ts';
import { mailTo as readMail } from '../support/mail.ts';

let database: Database;
let t: TestApp;
let db: Database['db'];

const policyId = (pkg: string, name: string) => policyIdOf(db, pkg, name);
const userId = (email: string) => userIdOf(db, email);
const submit = submitRequest;

beforeAll(async () => {
  database = await createTestDatabase();
  db = database.db;
  t = createTestApp(database);
  await seedDirectory(database, fabrikam(), t.clock);
  await seedDirectory(database, withOtherPackageIds(fabrikam({ hint: 'elsewhere.test', name: 'Elsewhere' }), 'e1'), t.clock);
});
afterAll(async () => {
  await database.close();
});

describe('Access packages: Available', () => {
  it('lists what this person may request, and nothing hidden, disabled, closed or admin-only', async () => {
    const agent = await signIn(t.app, USER.requestor);
    const res = await agent.get('/access-packages');
    expect(res.status).toBe(200);
    for (const name of ['Wiki editors', 'Repository access', 'Billing: submit', 'Billing: approve', 'Partner portal', 'Production console']) {
      expect(res.text).toContain(`>${name}</a>`);
    }
    for (const name of ['Board papers', 'Repository owners', 'Old system', 'Closed for requests']) expect(res.text).not.toContain(name);
    expect(res.text).toContain('6 access packages are available to you.');
    expect(res.text).toContain('Source Repository (Member)');
    // Nor found by a search, of any field or length: its catalog is disabled.
    for (const search of ['q=old', 'q=old&field=name', 'q=old&field=resources', 'q=ol', 'q=ol&field=resources']) {
      const found = await agent.get(`/access-packages?${search}`);
      expect(found.status, search).toBe(200);
      expect(found.text, search).not.toContain('Old system');
    }
  });

  it('offers no Request access for what the person already has or has asked for', async () => {
    await clearActivity(db);
    try {
      const agent = await signIn(t.app, USER.requestor);
      await requestId(agent, PKG.repo, await policyId(PKG.repo, 'Members'), {});
      const wiki = await requestId(agent, PKG.wiki, await policyId(PKG.wiki, 'Staff: with approval'), validWiki);
      const res = await agent.get('/access-packages');
      const row = (name: string) => new RegExp(`>${name}</a>[\\s\\S]*?</tr>`).exec(res.text)![0];
      expect(row('Repository access')).toContain('You have access');
      expect(row('Repository access')).not.toContain('Request access');
      expect(row('Wiki editors')).toContain(`<a href="/requests/${wiki}">View request<span class="visually-hidden"> for Wiki editors</span></a>`);
      expect(row('Partner portal')).toContain('>Request access<span class="visually-hidden"> to Partner portal</span></a>');
      // Their request forms, opened from a stale list or a second tab, say so instead of offering a form to fill in.
      for (const pane of [{}, { 'HX-Request': 'true', 'HX-Target': 'pane' }]) {
        const held = await agent.get(`/access-packages/${PKG.repo}/request`).set(pane);
        expect(held.status).toBe(200);
        expect(held.text).toMatch(/<p class="banner__text">\s*You have access (until|, with no end date)/);
        expect(held.text).not.toContain('id="request-form"');
        const asked = await agent.get(`/access-packages/${PKG.wiki}/request`).set(pane);
        expect(asked.text).toContain(`You have a request for this access package that is pending approval. <a href="/requests/${wiki}">View your request</a>`);
        expect(asked.text).not.toContain('id="request-form"');
      }
    } finally {
      await clearActivity(db);
    }
  });

  it('offers guests only the packages whose policies take guests', async () => {
    const agent = await signIn(t.app, USER.guest);
    const res = await agent.get('/access-packages');
    expect(res.text).toContain('>Partner portal</a>');
    expect(res.text).not.toContain('Repository access');
    expect(res.text).toContain('1 access package is available to you.');
    // With that policy paused, nothing is left to request, and the page says so once.
    const partner = await db('policies').where({ access_package_id: PKG.partner }).update({ accept_requests: false }).returning('id');
    try {
      const none = await agent.get('/access-packages');
      expect(none.text).toMatch(/No access packages are available to you at the moment\.\s*<\/p>\s*<p>Some packages can only be requested through a link/);
      expect(none.text).not.toContain('0 access packages');
    } finally {
      await db('policies').whereIn('id', partner.map((p: { id: string }) => p.id)).update({ accept_requests: true });
    }
  });

  it('searches names, descriptions and resources, and narrows to Name or Resources', async () => {
    const agent = await signIn(t.app, USER.requestor);
    const byName = await agent.get('/access-packages?q=WIKI&field=name');
    expect(byName.text).toContain('>Wiki editors</a>');
    expect(byName.text).not.toContain('>Repository access</a>');
    const byResource = await agent.get('/access-packages?q=source%20repo&field=resources');
    expect(byResource.text).toContain('>Repository access</a>');
    expect(byResource.text).toContain('>Production console</a>');
    expect(byResource.text).not.toContain('>Wiki editors</a>');
    const byDescription = await agent.get('/access-packages?q=invoices');
    expect(byDescription.text).toContain('>Billing: submit</a>');
    expect(byDescription.text).toContain('2 access packages match');
    const nameOnly = await agent.get('/access-packages?q=invoices&field=name');
    expect(nameOnly.text).toMatch(/No access packages you can request match <strong>“invoices”<\/strong> in names\.\s*<\/p>\s*<p>You could:<\/p>/);
    expect(nameOnly.text).not.toContain('0 access packages');
    expect(nameOnly.text).toContain('search names, descriptions and resources</a> instead of names only');
    const wildcard = await agent.get('/access-packages?q=%25');
    expect(wildcard.text).toContain('No access packages you can request match <strong>“%”</strong>.');
  });

  it('finds packages by what their resources are called now, after a rename or a role added or removed', async () => {
    const agent = await signIn(t.app, USER.requestor);
    const directoryId = (await db('users').where({ email: USER.requestor }).first('directory_id')).directory_id;
    const resource = await db('resources').where({ directory_id: directoryId, name: 'Source Repository' }).first('id');
    const wiki = await db('access_packages').where({ directory_id: directoryId, name: 'Wiki editors' }).first('id');
    const role = await db('resource_roles').where({ resource_id: resource.id }).first('id');
    const names = async (q: string, field = 'all') => (await agent.get(`/access-packages?q=${encodeURIComponent(q)}&field=${field}`)).text;
    try {
      await db('resources').where({ id: resource.id }).update({ name: 'Code Vault' });
      expect(await names('code vault')).toContain('>Repository access</a>');
      expect(await names('source repo', 'resources')).not.toContain('>Repository access</a>');
      await db('access_package_resource_roles').insert({ access_package_id: wiki.id, resource_role_id: role.id });
      expect(await names('code vault')).toContain('>Wiki editors</a>');
      await db('access_package_resource_roles').where({ access_package_id: wiki.id, resource_role_id: role.id }).delete();
      expect(await names('code vault')).not.toContain('>Wiki editors</a>');
    } finally {
      await db('access_package_resource_roles').where({ access_package_id: wiki.id, resource_role_id: role.id }).delete();
      await db('resources').where({ id: resource.id }).update({ name: 'Source Repository' });
    }
    expect(await names('source repo', 'resources')).toContain('>Repository access</a>');
  });

  it('answers only the results fragment to an htmx search, and says so with Vary', async () => {
    const agent = await signIn(t.app, USER.requestor);
    const res = await agent.get('/access-packages?q=wiki').set('HX-Request', 'true').set('HX-Target', 'package-results');
    expect(res.status).toBe(200);
    expect(res.text).not.toContain('<html');
    expect(res.text).toContain('>Wiki editors</a>');
    expect(res.text).toContain('1 access package matches <strong>“wiki”</strong>');
    // Screen readers hear what the swap brought, as on every other list.
    expect(res.text).toContain('<div id="live-status" hx-swap-oob="innerHTML">1 access package shown for “wiki”.</div>');
    const none = await agent.get('/access-packages?q=zzzq').set('HX-Request', 'true').set('HX-Target', 'package-results');
    expect(none.text).toContain('No access packages you can request match <strong>“zzzq”</strong>.');
    expect(none.text).toContain('<div id="live-status" hx-swap-oob="innerHTML">No access packages you can request match “zzzq”.</div>');
    expect(res.headers.vary).toMatch(/HX-Request/);
    const full = await agent.get('/access-packages?q=wiki').set('HX-Request', 'true').set('HX-Target', 'something-else');
    expect(full.text).toContain('<html');
  });

  /**
   * A directory like Fabrikam whose one catalog holds "Package 00" to "Package 44", where Otto signs
   * in with his Fabrikam password. Returns Otto's id there, and the directory's.
   */
  async function seedDirectoryOf45Packages(hint: string, name: string, idBlock: string): Promise<{ id: string; directory_id: string }> {
    const big = fabrikam({ hint, name });
    const template = big.catalogs[0].accessPackages[1];
    big.catalogs[0].accessPackages = Array.from({ length: 45 }, (_, i) => ({
      ...template,
      id: `00000000-0000-4000-${idBlock}-${String(i).padStart(12, '0')}`,
      name: `Package ${String(i).padStart(2, '0')}`,
      incompatibleWith: [],
    }));
    big.catalogs = [big.catalogs[0]];
    await seedDirectory(database, big, t.clock);
    const person = await db('users as u').join('directories as d', 'd.id', 'u.directory_id').where({ 'd.hint': hint, 'u.email': USER.other }).first('u.id', 'u.directory_id');
    await db('users').where({ id: person.id }).update({ password_hash: (await db('users').where({ id: await userId(USER.other) }).first('password_hash')).password_hash });
    return person;
  }

  it('pages through many packages with keyset links', async () => {
    await seedDirectoryOf45Packages('many.test', 'Many', '8000');
    const agent = await signIn(t.app, USER.other, { directory: 'Many' });
    const first = await agent.get('/access-packages');
    expect(first.status).toBe(200);
    expect(first.text).toContain('45 access packages are available to you.');
    const names = (html: string) => [...html.matchAll(/>(Package \d\d)<\/a>/g)].map((m) => m[1]);
    expect(names(first.text)).toEqual(Array.from({ length: 20 }, (_, i) => `Package ${String(i).padStart(2, '0')}`));
    expect(first.text).not.toContain('Previous page');
    const nextHref = /<a href="([^"]+)"[^>]*rel="next"/.exec(first.text)![1].replaceAll('&amp;', '&');
    const second = await agent.get(nextHref);
    expect(names(second.text)[0]).toBe('Package 20');
    const third = await agent.get(/<a href="([^"]+)"[^>]*rel="next"/.exec(second.text)![1].replaceAll('&amp;', '&'));
    expect(names(third.text)).toEqual(['Package 40', 'Package 41', 'Package 42', 'Package 43', 'Package 44']);
    expect(third.text).not.toContain('Next page');
    const back = await agent.get(/<a href="([^"]+)"[^>]*rel="prev"/.exec(third.text)![1].replaceAll('&amp;', '&'));
    expect(names(back.text)[0]).toBe('Package 20');
    expect(names(back.text)).toHaveLength(20);
    const broken = await agent.get('/access-packages?after=%7B%7Bnot-a-cursor');
    expect(names(broken.text)[0]).toBe('Package 00');
  }, 60_000);

  it('pages through Active access, soonest to end first and never-ending last, every package once', async () => {
    const person = await seedDirectoryOf45Packages('active.test', 'Active', '9000');
    try {
      const packages = await db('access_packages as p').join('policies as pol', 'pol.access_package_id', 'p.id').where('p.directory_id', person.directory_id).whereLike('p.name', 'Package %').distinctOn('p.name').orderBy('p.name').select('p.id', 'p.name', 'pol.id as policyId');
      expect(packages).toHaveLength(45);
      // Fifteen never end; the others end on ten different days, several on the same day.
      const now = t.clock.now();
      const endOf = (i: number) => (i < 15 ? null : new Date(now.getTime() + ((i * 7) % 10 + 1) * 86_400_000));
      await db('assignments').insert(packages.map((p, i) => ({
        directory_id: person.directory_id, access_package_id: p.id, policy_id: p.policyId, user_id: person.id,
        origin: 'admin', state: 'delivered', starts_at: new Date(now.getTime() - 86_400_000), ends_at: endOf(i),
      })));
      const expected = packages.map((p, i) => ({ name: p.name as string, end: endOf(i)?.getTime() ?? Infinity }))
        .sort((a, b) => a.end - b.end || a.name.localeCompare(b.name)).map((p) => p.name);

      const agent = await signIn(t.app, USER.other, { directory: 'Active' });
      const names = (html: string) => [...html.matchAll(/>(Package \d\d)<\/a>/g)].map((m) => m[1]);
      const seen: string[] = [];
      let path: string | undefined = '/access-packages/active';
      let pages = 0;
      let last = '';
      while (path) {
        const res = await agent.get(path);
        last = res.text;
        expect(res.status).toBe(200);
        expect(res.text).toContain('You have 45 active access packages, soonest to end first.');
        seen.push(...names(res.text));
        pages++;
        path = /<a href="([^"]+)"[^>]*rel="next">Next page<\/a>/.exec(res.text)?.[1].replaceAll('&amp;', '&');
      }
      expect(pages).toBe(3);
      expect(seen).toEqual(expected);

      const back = await agent.get(/<a href="([^"]+)"[^>]*rel="prev"/.exec(last)![1].replaceAll('&amp;', '&'));
      expect(names(back.text)).toEqual(expected.slice(20, 40));
      // Broken or made-up cursors, and one past the end (bookmarked before that access ended), give the first page.
      const cursor = (key: unknown[]) => Buffer.from(JSON.stringify(key)).toString('base64url');
      const id = '00000000-0000-4000-9000-000000000044';
      for (const broken of ['%7B%7Bnot-a-cursor', cursor(['infinity', 'package 44', id]), cursor(['-271821-04-20T00:00:00.000Z', 'package 44', id]), cursor([null, 'zzz', id])]) {
        const res = await agent.get(`/access-packages/active?after=${broken}`);
        expect(res.status).toBe(200);
        expect(names(res.text)).toEqual(expected.slice(0, 20));
      }
    } finally {
      // Its people share the emails of Fabrikam's: gone, they cannot be mistaken for them.
      const dir = await db('directories').where({ hint: 'active.test' }).first('id');
      await db('assignments').where({ directory_id: dir.id }).delete();
      await db('directories').where({ id: dir.id }).delete();
    }
  }, 60_000);
});

describe('the package pane', () => {
  it('shows description, resources and Request access', async () => {
    const agent = await signIn(t.app, USER.requestor);
    const res = await agent.get(`/access-packages/${PKG.wiki}`);
    expect(res.status).toBe(200);
    expect(res.text).toContain('<h2 tabindex="-1" data-autofocus>Wiki editors</h2>');
    expect(res.text).toContain('Edit pages of the team wiki.');
    expect(res.text).toContain('Team Wiki');
    expect(res.text).toContain('<td>Site</td>');
    expect(res.text).toContain('<td>Editor</td>');
    expect(res.text).toContain(`href="/access-packages/${PKG.wiki}/request"`);
    const pane = await agent.get(`/access-packages/${PKG.wiki}`).set('HX-Request', 'true').set('HX-Target', 'pane');
    expect(pane.text).not.toContain('<html');
    expect(pane.text).toContain('<h2 tabindex="-1" data-autofocus>Wiki editors</h2>');
  });

  it('opens a hidden package through its link', async () => {
    const agent = await signIn(t.app, USER.requestor);
    const res = await agent.get(`/access-packages/${PKG.board}`);
    expect(res.status).toBe(200);
    expect(res.text).toContain('Board papers');
    expect(res.text).toContain(`href="/access-packages/${PKG.board}/request"`);
  });

  it('says clearly when a package is unavailable', async () => {
    const agent = await signIn(t.app, USER.requestor);
    for (const path of [`/access-packages/${PKG.adminOnly}`, `/access-packages/${PKG.archived}`, `/access-packages/${PKG.closed}`, '/access-packages/0b9a7b8e-0000-4000-8000-000000000000']) {
      const res = await agent.get(path);
      expect(res.status).toBe(404);
      expect(res.text).toContain('This access package is unavailable');
    }
    expect((await agent.get('/access-packages/not-a-uuid')).status).toBe(404);
    const guest = await signIn(t.app, USER.guest);
    expect((await guest.get(`/access-packages/${PKG.wiki}`)).status).toBe(404);
  });
});

describe('the request form', () => {
  it('asks to select a policy when more than one applies, then shows that policy’s form', async () => {
    const agent = await signIn(t.app, USER.requestor);
    const choose = await agent.get(`/access-packages/${PKG.wiki}/request`);
    expect(choose.text).toContain('<legend class="fieldset__legend">Select a policy</legend>');
    expect(choose.text).toContain('Staff: with approval');
    expect(choose.text).toContain('Thirty days, approved by your manager. Access: 30 days. Needs approval.');
    expect(choose.text).toContain('Access: 1 day. No approval needed');
    const policy = await policyId(PKG.wiki, 'Staff: with approval');
    const form = await agent.get(`/access-packages/${PKG.wiki}/request?policy=${policy}`);
    expect(form.text).toContain('Which ticket is this for?');
    expect(form.text).toContain('A ticket key such as WIKI-12');
    expect(form.text).toContain('value="Design docs"');
    expect(form.text).toContain('Anything else? <span class="field__optional">(optional)</span>');
    expect(form.text).toContain('<h3>Requestor information</h3>');
    expect(form.text).toMatch(/<p class="readonly-value"[^>]*>CC-42<\/p>/);
    expect(form.text).toContain('<label class="field__label" for="justification">Business justification</label>');
    expect(form.text).toContain('Request for specific period?');
    expect(form.text).toContain('id="startDate"');
    expect(form.text).toContain('>Submit</button>');
  });

  it('skips the policy step when exactly one policy applies', async () => {
    const agent = await signIn(t.app, USER.requestor);
    const form = await agent.get(`/access-packages/${PKG.repo}/request`);
    expect(form.text).not.toContain('Select a policy');
    expect(form.text).toContain('name="policy" value="');
    expect(form.text).not.toContain('Business justification</label>\n');
  });

  it('swaps the period dates in and out for htmx', async () => {
    const agent = await signIn(t.app, USER.requestor);
    const policy = await policyId(PKG.wiki, 'Staff: with approval');
    const yes = await agent.get(`/access-packages/${PKG.wiki}/request?policy=${policy}&specificPeriod=yes`).set('HX-Request', 'true').set('HX-Target', 'period-fields');
    expect(yes.text).not.toContain('<html');
    expect(yes.text).toContain('id="startDate"');
    const no = await agent.get(`/access-packages/${PKG.wiki}/request?policy=${policy}&specificPeriod=no`).set('HX-Request', 'true').set('HX-Target', 'period-fields');
    expect(no.text).not.toContain('id="startDate"');
    // Dates typed before choosing No wait in the fragment, hidden, and come back with Yes.
    const typed = `/access-packages/${PKG.wiki}/request?policy=${policy}&startDate=2027-01-20&endDate=2027-02-10`;
    const keptByNo = await agent.get(`${typed}&specificPeriod=no`).set('HX-Request', 'true').set('HX-Target', 'period-fields');
    expect(keptByNo.text).toContain('<input type="hidden" name="startDate" value="2027-01-20">');
    expect(keptByNo.text).toContain('<input type="hidden" name="endDate" value="2027-02-10">');
    const back = await agent.get(`${typed}&specificPeriod=yes`).set('HX-Request', 'true').set('HX-Target', 'period-fields');
    expect(back.text).toMatch(/id="startDate"[^>]*value="2027-01-20"|value="2027-01-20"[^>]*id="startDate"/);
    const hostile = await agent.get(`/access-packages/${PKG.wiki}/request?policy=${policy}&specificPeriod=no&startDate=%22%3E%3Cscript%3E`).set('HX-Request', 'true').set('HX-Target', 'period-fields');
    expect(hostile.status).toBe(200);
    expect(hostile.text).not.toContain('<script>');
    // The hint says when access would start and how long it lasts, in words.
    expect((await agent.get(`/access-packages/${PKG.repo}/request`)).text).toContain('With No, access starts at once and lasts 90 days.');
    // Asked for without a policy (only a crafted request does that), it has no dates to ask about: not a 500.
    const none = await agent.get(`/access-packages/${PKG.wiki}/request?specificPeriod=yes`).set('HX-Request', 'true').set('HX-Target', 'period-fields');
    expect(none.status).toBe(200);
    expect(none.text).not.toContain('id="startDate"');
  });
});

describe('submitting', () => {
  let rita: Agent;
  beforeEach(async () => {
    t.clock.set('2027-01-15T09:00:00Z');
    await db('assignment_grants').delete();
    await db('assignments').delete();
    await db('request_stage_approvers').delete();
    await db('request_stages').delete();
    await db('requests').delete();
    rita = await signIn(t.app, USER.requestor);
  });

  it('creates a request pending the manager’s approval and says what happens next', async () => {
    const policy = await policyId(PKG.wiki, 'Staff: with approval');
    const res = await submit(rita, PKG.wiki, policy, validWiki);
    expect(res.status).toBe(303);
    const request = await db('requests').first('*');
    expect(res.headers.location).toBe(`/requests/${request.id}/submitted`);
    expect(request.state).toBe('pendingApproval');
    expect(request.answers).toEqual([
      { key: 'ticket', text: 'Which ticket is this for?', answer: 'WIKI-7' },
      { key: 'use', text: 'What will you edit?', answer: 'Runbooks' },
    ]);
    const stage = await db('request_stages').where({ request_id: request.id }).first('*');
    expect(stage.state).toBe('pending');
    expect(new Date(stage.due_at).toISOString()).toBe('2027-01-29T09:00:00.000Z');
    const approvers = await db('request_stage_approvers').where({ stage_id: stage.id }).pluck('user_id');
    expect(approvers).toEqual([await userId(USER.manager)]);
    const confirmation = await rita.get(res.headers.location);
    expect(confirmation.text).toContain('Request submitted');
    expect(confirmation.text).toContain('Max Manager must approve it by 29 January 2027 at 09:00 UTC');
    expect(confirmation.text).toContain('<a href="/requests">Request history</a>');
    const user = await db('users').where({ id: await userId(USER.requestor) }).first('attributes');
    expect(user.attributes.phone).toBe('+44 20 7946 0000');
    expect(await db('audit_log').where({ action: 'request.submitted', target_id: request.id }).first()).toBeTruthy();
  });

  it('keeps a non-editable attribute whatever a tampered form says', async () => {
    const policy = await policyId(PKG.wiki, 'Staff: with approval');
    const res = await submit(rita, PKG.wiki, policy, { ...validWiki, 'attribute-0': 'CC-HACKED' });
    expect(res.status).toBe(303);
    const user = await db('users').where({ id: await userId(USER.requestor) }).first('attributes');
    expect(user.attributes.costCenter).toBe('CC-42');
    const request = await db('requests').first('requestor_attributes');
    expect(request.requestor_attributes).toContainEqual({ attribute: 'costCenter', label: 'Cost center', value: 'CC-42' });
  });

  it('asks a person without the non-editable value to enter it once', async () => {
    const nina = await signIn(t.app, USER.noManager);
    const policy = await policyId(PKG.wiki, 'Staff: with approval');
    const form = await nina.get(`/access-packages/${PKG.wiki}/request?policy=${policy}`);
    expect(form.text).toContain('You enter this once.');
    const missing = await submit(nina, PKG.wiki, policy, { ...validWiki, 'attribute-0': '' });
    expect(missing.status).toBe(422);
    expect(missing.text).toContain('<a href="#attribute-0">Enter your cost center</a>');
    const ok = await submit(nina, PKG.wiki, policy, { ...validWiki, 'attribute-0': 'CC-77' });
    expect(ok.status).toBe(303);
    expect((await db('users').where({ id: await userId(USER.noManager) }).first('attributes')).attributes.costCenter).toBe('CC-77');
    // No manager: the policy's fallback approver decides.
    const approvers = await db('request_stage_approvers as a').join('users as u', 'u.id', 'a.user_id').select('u.email', 'a.kind');
    expect(approvers).toEqual([{ email: USER.approver, kind: 'fallback' }]);
  });

  it('re-renders the form with each problem, the values typed and 422', async () => {
    const policy = await policyId(PKG.wiki, 'Staff: with approval');
    const res = await submit(rita, PKG.wiki, policy, { 'answer-0': 'wiki 7', 'answer-1': 'Holidays', 'answer-2': 'x'.repeat(4001), justification: '', specificPeriod: 'no' });
    expect(res.status).toBe(422);
    expect(res.text).toContain('<title>Error: Request access: Wiki editors');
    expect(res.text).toContain('Your answer to “Which ticket is this for?” must be a ticket key such as WIKI-12');
    expect(res.text).toContain('Choose one of the answers offered for “What will you edit?”');
    expect(res.text).toContain('Your answer to “Anything else?” must be 4,000 characters or fewer');
    expect(res.text).toContain('<a href="#justification">Enter a business justification</a>');
    expect(res.text).toContain('value="wiki 7"');
    expect(res.text).toMatch(/id="justification-error"/);
    // The same refusal through htmx: only the form, with the title the whole page would have.
    const form = await rita.get(`/access-packages/${PKG.wiki}/request?policy=${policy}`);
    const swapped = await rita.post(`/access-packages/${PKG.wiki}/request`).set('HX-Request', 'true').set('HX-Target', 'pane').type('form')
      .send({ _csrf: csrfFrom(form.text), policy, 'answer-0': 'wiki 7', 'answer-1': 'Runbooks', justification: 'x', specificPeriod: 'no' });
    expect(swapped.status).toBe(422);
    expect(swapped.text).not.toContain('<html');
    expect(swapped.text).toContain('<title>Error: Request access: Wiki editors – Fabrikam – Portico</title>');
    // Swapping in the dates alone leaves the page's title (and its "Error: ") as it is.
    const dates = await rita.get(`/access-packages/${PKG.wiki}/request?policy=${policy}&specificPeriod=yes`).set('HX-Request', 'true').set('HX-Target', 'period-fields');
    expect(dates.text).toContain('Start date');
    expect(dates.text).not.toContain('<title>');
    const missing = await submit(rita, PKG.wiki, policy, { ...validWiki, 'answer-0': '', 'answer-1': '' });
    expect(missing.text).toContain('Answer “Which ticket is this for?”');
    expect(missing.text).toContain('<a href="#answer-1">Choose an answer to “What will you edit?”</a>');
    expect(await db('requests').count('* as n')).toEqual([{ n: 0 }]);
  });

  it('stops checking an answer against a pattern that backtracks without end, and says so (the server stays responsive)', async () => {
    const policy = await policyId(PKG.wiki, 'Staff: with approval');
    const { questions } = await db('policies').where({ id: policy }).first('questions');
    const slow = structuredClone(questions);
    slow[0].pattern = '^(a+)+$';
    delete slow[0].patternHint;
    await db('policies').where({ id: policy }).update({ questions: JSON.stringify(slow) });
    try {
      const res = await submit(rita, PKG.wiki, policy, { ...validWiki, 'answer-0': `${'a'.repeat(60)}!` });
      expect(res.status).toBe(422);
      expect(res.text).toContain('Your answer to “Which ticket is this for?” could not be checked against the format asked for');
      expect((await rita.get('/requests')).status).toBe(200);
      expect(await db('requests').count('* as n')).toEqual([{ n: 0 }]);
    } finally {
      await db('policies').where({ id: policy }).update({ questions: JSON.stringify(questions) });
    }
  });

  it('checks the period: dates present, real, not past, in order and within the policy', async () => {
    const policy = await policyId(PKG.wiki, 'Staff: with approval');
    const cases: [Record<string, string>, string][] = [
      [{ startDate: '', endDate: '' }, 'Enter a start date'],
      [{ startDate: '2027-01-20', endDate: '' }, 'Enter an end date'],
      [{ startDate: '2027-02-30', endDate: '2027-03-01' }, 'Start date must be a real date, like 2027-01-31'],
      [{ startDate: '2027-01-14', endDate: '2027-01-20' }, 'Start date must be today or in the future'],
      [{ startDate: '2027-01-20', endDate: '2027-01-19' }, 'End date must be the same as or after the start date'],
      [{ startDate: '2027-01-20', endDate: '2027-03-20' }, 'End date must be no later than 19 February 2027, the most this policy allows'],
      [{ startDate: '2027-01-20', endDate: '2027-02-20' }, 'End date must be no later than 19 February 2027, the most this policy allows'],
    ];
    for (const [dates, message] of cases) {
      const res = await submit(rita, PKG.wiki, policy, { ...validWiki, specificPeriod: 'yes', ...dates });
      expect(res.status, message).toBe(422);
      expect(res.text).toContain(message);
    }
    const ignored = await submit(rita, PKG.wiki, policy, { ...validWiki, specificPeriod: 'no', startDate: 'garbage', endDate: 'garbage' });
    expect(ignored.status).toBe(303);
  });

  it('accepts the day it names as the last the policy allows, and ends access when the policy says', async () => {
    const policy = await policyId(PKG.wiki, 'Staff: with approval');
    const form = await rita.get(`/access-packages/${PKG.wiki}/request?policy=${policy}`);
    expect(form.text).toContain('At most 30 days after the start date');
    const res = await submit(rita, PKG.wiki, policy, { ...validWiki, specificPeriod: 'yes', startDate: '2027-01-20', endDate: '2027-02-19' });
    expect(res.status).toBe(303);
    const request = await db('requests').where({ access_package_id: PKG.wiki }).first('requested_start', 'requested_end');
    expect(new Date(request.requested_start).toISOString()).toBe('2027-01-20T00:00:00.000Z');
    // 30 days from the start of 20 January: the policy's limit, not the end of the day chosen.
    expect(new Date(request.requested_end).toISOString()).toBe('2027-02-19T00:00:00.000Z');
  });

  it('delivers at once when the policy needs no approval, with grants and the policy’s end', async () => {
    const policy = await policyId(PKG.repo, 'Members');
    const res = await submit(rita, PKG.repo, policy, {});
    expect(res.status).toBe(303);
    const request = await db('requests').first('*');
    expect(request.state).toBe('delivered');
    const assignment = await db('assignments').where({ request_id: request.id }).first('*');
    expect(assignment.state).toBe('delivered');
    expect(new Date(assignment.ends_at).toISOString()).toBe('2027-04-15T09:00:00.000Z');
    const grants = await db('assignment_grants as g').join('resource_roles as rr', 'rr.id', 'g.resource_role_id').where({ assignment_id: assignment.id }).pluck('rr.name');
    expect(grants).toEqual(['Member']);
    const confirmation = await rita.get(res.headers.location);
    expect(confirmation.text).toContain('you now have access to Repository access until 15 April 2027');
    const active = await rita.get('/access-packages/active');
    expect(active.text).toContain('Repository access');
    expect(active.text).toContain('15 April 2027');
  });

  it('schedules access that starts later, without grants until it starts', async () => {
    const policy = await policyId(PKG.repo, 'Members');
    const res = await submit(rita, PKG.repo, policy, { specificPeriod: 'yes', startDate: '2027-02-01', endDate: '2027-02-10' });
    expect(res.status).toBe(303);
    const request = await db('requests').first('*');
    expect(request.state).toBe('scheduled');
    const assignment = await db('assignments').where({ request_id: request.id }).first('*');
    expect(assignment.state).toBe('scheduled');
    expect(new Date(assignment.starts_at).toISOString()).toBe('2027-02-01T00:00:00.000Z');
    expect(new Date(assignment.ends_at).toISOString()).toBe('2027-02-10T23:59:59.000Z');
    expect(await db('assignment_grants').where({ assignment_id: assignment.id }).count('* as n')).toEqual([{ n: 0 }]);
    expect((await rita.get(res.headers.location)).text).toContain('Your access starts on 1 February 2027 and ends on 10 February 2027');
  });

  it('refuses a second request while one is open, or while access is held', async () => {
    const wiki = await policyId(PKG.wiki, 'Staff: with approval');
    expect((await submit(rita, PKG.wiki, wiki, validWiki)).status).toBe(303);
    const again = await submit(rita, PKG.wiki, wiki, validWiki);
    expect(again.status).toBe(422);
    expect(again.text).toContain('You already have a request for Wiki editors that is pending approval. You can view or cancel it in Request history.');
    const repo = await policyId(PKG.repo, 'Members');
    expect((await submit(rita, PKG.repo, repo, {})).status).toBe(303);
    const held = await submit(rita, PKG.repo, repo, {});
    expect(held.status).toBe(422);
    expect(held.text).toContain('You already have access to Repository access until 15 April 2027');
    expect(await db('requests').count('* as n')).toEqual([{ n: 2 }]);
  });

  it('makes one request from a double click (same form) and from simultaneous tabs', async () => {
    const policy = await policyId(PKG.wiki, 'Staff: with approval');
    const form = await rita.get(`/access-packages/${PKG.wiki}/request?policy=${policy}`);
    const fields = {
      _csrf: csrfFrom(form.text),
      policy,
      policyVersion: /name="policyVersion" value="([^"]+)"/.exec(form.text)![1],
      submissionKey: /name="submissionKey" value="([^"]+)"/.exec(form.text)![1],
      ...validWiki,
    };
    const [a, b] = await Promise.all([rita.post(`/access-packages/${PKG.wiki}/request`).type('form').send(fields), rita.post(`/access-packages/${PKG.wiki}/request`).type('form').send(fields)]);
    expect(a.status).toBe(303);
    expect(b.status).toBe(303);
    expect(a.headers.location).toBe(b.headers.location);
    const tabs = await Promise.all([1, 2, 3].map((i) => rita.post(`/access-packages/${PKG.wiki}/request`).type('form').send({ ...fields, submissionKey: `tab-${i}` })));
    expect(tabs.map((r) => r.status)).toEqual([422, 422, 422]);
    expect(await db('requests').count('* as n')).toEqual([{ n: 1 }]);
  });

  it('enforces separation of duties and names the conflicting package', async () => {
    const approve = await policyId(PKG.billingApprove, 'Members');
    expect((await submit(rita, PKG.billingApprove, approve, {})).status).toBe(303);
    const submitPolicy = await policyId(PKG.billingSubmit, 'Members');
    const res = await submit(rita, PKG.billingSubmit, submitPolicy, {});
    expect(res.status).toBe(422);
    expect(res.text).toContain('You cannot request Billing: submit because you have Billing: approve. The two are incompatible (separation of duties).');
    // Said before anything is filled in: in the list, on the package's pane and in place of the form.
    const list = (await rita.get('/access-packages')).text;
    const row = new RegExp(`>Billing: submit</a>[\\s\\S]*?</tr>`).exec(list)![0];
    expect(row).toContain('Incompatible with Billing: approve');
    expect(row).not.toContain('Request access');
    for (const path of [`/access-packages/${PKG.billingSubmit}`, `/access-packages/${PKG.billingSubmit}/request?policy=${submitPolicy}`]) {
      const page = await rita.get(path);
      expect(page.status, path).toBe(200);
      expect(page.text, path).toContain('<p class="banner__text">You cannot request Billing: submit because you have Billing: approve. The two are incompatible (separation of duties).</p>');
      expect(page.text, path).not.toContain('>Request access</a>');
      expect(page.text, path).not.toContain('>Submit</button>');
    }

    const otto = await signIn(t.app, USER.other);
    expect((await submit(otto, PKG.billingSubmit, submitPolicy, {})).status).toBe(303);
    const pending = await submit(otto, PKG.billingApprove, approve, {});
    expect(pending.status).toBe(422);
    expect(pending.text).toContain('You cannot request Billing: approve because you have a pending request for Billing: submit.');
  });

  it('asks for a policy when Continue is pressed without one', async () => {
    const res = await rita.get(`/access-packages/${PKG.wiki}/request?step=policy`);
    expect(res.status).toBe(422);
    expect(res.text).toContain('<a href="#policy">Select a policy</a>');
    expect(res.text).toMatch(/<legend[^>]*>Select a policy<\/legend>/);
    // Chosen, it goes on to the form.
    const chosen = await rita.get(`/access-packages/${PKG.wiki}/request?step=policy&policy=${await policyId(PKG.wiki, 'Staff: with approval')}`);
    expect(chosen.status).toBe(200);
    expect(chosen.text).toContain('Business justification');
  });

  it('gives the confirmation after Submit its own address when htmx follows the redirect', async () => {
    const id = await requestId(rita, PKG.wiki, await policyId(PKG.wiki, 'Staff: with approval'), validWiki);
    const fragment = await rita.get(`/requests/${id}/submitted`).set({ 'HX-Request': 'true', 'HX-Target': 'pane' });
    expect(fragment.status).toBe(200);
    expect(fragment.headers['hx-push-url']).toBe(`/requests/${id}/submitted`);
    expect(fragment.text).not.toContain('<html');
    expect((await rita.get(`/requests/${id}/submitted`)).headers['hx-push-url']).toBeUndefined();
  });

  it('enforces separation of duties whichever of the two packages names the other', async () => {
    // Only Billing: submit names Billing: approve now.
    await db('access_package_incompatibles').where({ access_package_id: PKG.billingApprove, incompatible_id: PKG.billingSubmit }).delete();
    try {
      const submitPolicy = await policyId(PKG.billingSubmit, 'Members');
      expect((await submit(rita, PKG.billingSubmit, submitPolicy, {})).status).toBe(303);
      const res = await submit(rita, PKG.billingApprove, await policyId(PKG.billingApprove, 'Members'), {});
      expect(res.status).toBe(422);
      expect(res.text).toContain('You cannot request Billing: approve because you have a pending request for Billing: submit.');
    } finally {
      await db('access_package_incompatibles').insert({ access_package_id: PKG.billingApprove, incompatible_id: PKG.billingSubmit });
    }
  });

  it('does not deliver a request approved after its package was made incompatible with one the person holds', async () => {
    // Rita holds Repository access; she asks for Wiki editors, which her manager must approve.
    const repo = await requestId(rita, PKG.repo, await policyId(PKG.repo, 'Members'), {});
    await decide(await signIn(t.app, USER.approver), repo, 'approve');
    expect((await db('requests').where({ id: repo }).first('state')).state).toBe('delivered');
    const wiki = await requestId(rita, PKG.wiki, await policyId(PKG.wiki, 'Staff: with approval'), validWiki);
    // Meanwhile an administrator makes Repository access incompatible with Wiki editors.
    await db('access_package_incompatibles').insert({ access_package_id: PKG.repo, incompatible_id: PKG.wiki });
    try {
      expect((await decide(await signIn(t.app, USER.manager), wiki, 'approve')).status).toBe(303);
      expect((await db('requests').where({ id: wiki }).first('state')).state).toBe('deliveryFailed');
      expect(await db('assignments').where({ request_id: wiki }).count('* as n')).toEqual([{ n: 0 }]);
      const [mail] = await readMail(t, USER.requestor, 'requestNotDelivered');
      expect(mail.text).toContain('Your request for access to Wiki editors could not be completed: you have Repository access, which is incompatible with this access package (separation of duties).');
      expect((await rita.get(`/requests/${wiki}`)).text).toContain('Delivery failed');
    } finally {
      await db('access_package_incompatibles').where({ access_package_id: PKG.repo, incompatible_id: PKG.wiki }).delete();
    }
  });

  it('refuses a request that nobody but the requestor could approve', async () => {
    const apu = await signIn(t.app, USER.approver);
    const policy = await policyId(PKG.billingSubmit, 'Members');
    const res = await submit(apu, PKG.billingSubmit, policy, {});
    expect(res.status).toBe(422);
    expect(res.text).toContain('Nobody can approve this request: stage 1 of the policy “Members” has no approver other than you');
    expect(await db('requests').count('* as n')).toEqual([{ n: 0 }]);
  });

  it('answers tampered and malformed posts with a 4xx and changes nothing', async () => {
    const wikiPolicy = await policyId(PKG.wiki, 'Staff: with approval');
    const foreign = await submit(rita, PKG.repo, wikiPolicy, {});
    expect(foreign.status).toBe(422);
    expect(foreign.text).toContain('The policy you chose does not take requests from you. Select a policy.');
    const adminOnly = await submit(rita, PKG.repo, await policyId(PKG.adminOnly, 'Administrators assign'), {});
    expect(adminOnly.status).toBe(422);
    const form = await rita.get(`/access-packages/${PKG.repo}/request`);
    const token = csrfFrom(form.text);
    const none = await rita.post(`/access-packages/${PKG.adminOnly}/request`).type('form').send({ _csrf: token, policy: await policyId(PKG.adminOnly, 'Administrators assign') });
    expect(none.status).toBe(404);
    const array = await rita.post(`/access-packages/${PKG.repo}/request`).type('form').send(`_csrf=${token}&policy=${await policyId(PKG.repo, 'Members')}&justification=a&justification=b`);
    expect(array.status).toBe(400);
    const long = await submit(rita, PKG.wiki, wikiPolicy, { ...validWiki, justification: 'y'.repeat(2001) });
    expect(long.status).toBe(422);
    expect(long.text).toContain('Business justification must be 2,000 characters or fewer');
    const otherDirectory = await db('access_packages as p').join('directories as d', 'd.id', 'p.directory_id').where({ 'd.hint': 'elsewhere.test', 'p.name': 'Repository access' }).first('p.id');
    expect((await rita.get(`/access-packages/${otherDirectory.id}`)).status).toBe(404);
    const nul = await rita.post(`/access-packages/${PKG.repo}/request`).type('form').send({ _csrf: token, policy: 'x\u0000' });
    expect(nul.status).toBe(400);
    expect(await db('requests').count('* as n')).toEqual([{ n: 0 }]);
  });
});

describe('Request history, Cancel and Resubmit', () => {
  let rita: Agent;
  let requestId: string;
  beforeEach(async () => {
    t.clock.set('2027-01-15T09:00:00Z');
    await db('assignment_grants').delete();
    await db('assignments').delete();
    await db('request_stage_approvers').delete();
    await db('request_stages').delete();
    await db('requests').delete();
    rita = await signIn(t.app, USER.requestor);
    requestId = await submittedRequestId(rita, PKG.wiki, await policyId(PKG.wiki, 'Staff: with approval'), validWiki);
  });

  it('lists requests newest first with their state in words and a View link', async () => {
    t.clock.advance({ hours: 1 });
    await submit(rita, PKG.repo, await policyId(PKG.repo, 'Members'), {});
    const res = await rita.get('/requests');
    expect(res.status).toBe(200);
    const rows = [...res.text.matchAll(/<th scope="row">([^<]+)<\/th>\s*<td><strong class="tag tag--\w+">([^<]+)<\/strong>/g)].map((m) => [m[1], m[2]]);
    expect(rows).toEqual([
      ['Repository access', 'Delivered'],
      ['Wiki editors', 'Pending approval'],
    ]);
    expect(res.text).toContain(`href="/requests/${requestId}"`);
  });

  it('shows what was asked and the history of the request', async () => {
    const res = await rita.get(`/requests/${requestId}`);
    expect(res.text).toContain('<dt>Which ticket is this for?</dt>');
    expect(res.text).toContain('<dd>WIKI-7</dd>');
    expect(res.text).toContain('I maintain the on-call runbooks.');
    expect(res.text).toContain('Submitted by Rita Requestor');
    expect(res.text).toContain('Stage 1 of 1: Max Manager must decide by 29 January 2027');
    expect(res.text).toContain('>Cancel request</a>');
    expect(res.text).not.toContain('>Resubmit</a>');
  });

  it('cancels after a confirmation, and approvers stop seeing it', async () => {
    const confirm = await rita.get(`/requests/${requestId}/cancel`);
    expect(confirm.text).toContain('Are you sure you want to cancel your request for Wiki editors?');
    const res = await rita.post(`/requests/${requestId}/cancel`).type('form').send({ _csrf: csrfFrom(confirm.text) });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(`/requests/${requestId}`);
    const after = await rita.get(res.headers.location);
    expect(after.text).toContain('Your request for Wiki editors was canceled.');
    expect(after.text).toContain('>Canceled</strong>');
    expect(after.text).toContain('Canceled by Rita Requestor');
    expect(await db('request_stage_approvers').where({ open: true }).count('* as n')).toEqual([{ n: 0 }]);
    // The approver who was asked to decide is told they need not any more.
    const [told] = await readMail(t, USER.manager, 'requestCanceledApprover');
    expect(told.subject).toBe('Request canceled: Wiki editors for Rita Requestor');
    expect(told.text).toContain('You no longer need to approve or deny it.');
    const again = await rita.post(`/requests/${requestId}/cancel`).type('form').send({ _csrf: csrfFrom(confirm.text) });
    expect(again.status).toBe(409);
    expect(again.text).toContain('This request was already canceled.');
    expect(await readMail(t, USER.manager, 'requestCanceledApprover')).toHaveLength(1);
  });

  it('refuses to cancel a delivered request, saying why', async () => {
    const res = await submit(rita, PKG.repo, await policyId(PKG.repo, 'Members'), {});
    const id = res.headers.location.split('/')[2];
    const page = await rita.get(`/requests/${id}`);
    expect(page.text).not.toContain('Cancel request');
    const post = await rita.post(`/requests/${id}/cancel`).type('form').send({ _csrf: csrfFrom(page.text) });
    expect(post.status).toBe(409);
    expect(post.text).toContain('This request was approved and the access delivered, so it can no longer be canceled.');
    expect((await db('requests').where({ id }).first('state')).state).toBe('delivered');
  });

  it('answers another person’s request with 404 for View, Cancel and Resubmit', async () => {
    const otto = await signIn(t.app, USER.other);
    expect((await otto.get(`/requests/${requestId}`)).status).toBe(404);
    expect((await otto.get(`/requests/${requestId}/cancel`)).status).toBe(404);
    const token = csrfFrom((await otto.get('/requests')).text);
    expect((await otto.post(`/requests/${requestId}/cancel`).type('form').send({ _csrf: token })).status).toBe(404);
    expect((await decide(await signIn(t.app, USER.manager), requestId, 'deny')).status).toBe(303);
    expect((await otto.get(`/access-packages/${PKG.wiki}/request?resubmitOf=${requestId}`)).status).toBe(404);
    expect((await db('requests').where({ id: requestId }).first('state')).state).toBe('denied');
  });

  it('resubmits a denied request with the earlier answers, linked to it', async () => {
    expect((await decide(await signIn(t.app, USER.manager), requestId, 'deny', 'Not now.')).status).toBe(303);
    const view = await rita.get(`/requests/${requestId}`);
    expect(view.text).toContain('>Resubmit</a>');
    expect(view.text).not.toContain('Cancel request');
    const form = await rita.get(`/access-packages/${PKG.wiki}/request?resubmitOf=${requestId}`);
    expect(form.status).toBe(200);
    expect(form.text).toContain('value="WIKI-7"');
    expect(form.text).toContain('I maintain the on-call runbooks.');
    expect(form.text).toContain(`name="resubmitOf" value="${requestId}"`);
    const res = await rita
      .post(`/access-packages/${PKG.wiki}/request`)
      .type('form')
      .send({
        _csrf: csrfFrom(form.text),
        policy: /name="policy" value="([^"]+)"/.exec(form.text)![1],
        policyVersion: /name="policyVersion" value="([^"]+)"/.exec(form.text)![1],
        submissionKey: 'resubmit-1',
        resubmitOf: requestId,
        ...validWiki,
      });
    expect(res.status).toBe(303);
    const fresh = await db('requests').where({ resubmits_request_id: requestId }).first('id', 'state');
    expect(fresh.state).toBe('pendingApproval');
    const old = await rita.get(`/requests/${requestId}`);
    expect(old.text).toContain(`You resubmitted this request. <a href="/requests/${fresh.id}">`);
    expect(old.text).not.toContain('>Resubmit</a>');
  });

  it('says when the earlier policy changed or no longer applies', async () => {
    t.clock.advance({ days: 15 });
    await sweepAndQueueEmails({ db, notifier: t.services.notifier, logger: createLogger('silent') }, t.clock.now());
    expect((await db('requests').where({ id: requestId }).first('state')).state).toBe('expired');
    const policy = await policyId(PKG.wiki, 'Staff: with approval');
    await db('policies').where({ id: policy }).update({ updated_at: new Date('2027-01-16T00:00:00Z') });
    const changed = await rita.get(`/access-packages/${PKG.wiki}/request?resubmitOf=${requestId}`);
    expect(changed.text).toContain('The policy “Staff: with approval” has changed since your earlier request. Check your answers before you submit.');
    await db('policies').where({ id: policy }).update({ accept_requests: false });
    const gone = await rita.get(`/access-packages/${PKG.wiki}/request?resubmitOf=${requestId}`);
    expect(gone.text).toContain('The policy you used before, “Staff: with approval”, no longer lets you request this access package.');
    // Choosing another policy there goes on with it, the request still a resubmission.
    const oneDay = await policyId(PKG.wiki, 'Staff: one day, no approval');
    const chosen = await rita.get(`/access-packages/${PKG.wiki}/request?resubmitOf=${requestId}&policy=${oneDay}`);
    expect(chosen.text).toContain(`<input type="hidden" name="policy" value="${oneDay}">`);
    expect(chosen.text).toContain(`name="resubmitOf" value="${requestId}"`);
    expect(chosen.text).not.toContain('Select a policy');
    // What the earlier request said comes along to the policy chosen instead.
    expect(chosen.text).toContain('I maintain the on-call runbooks.');
    await db('policies').where({ id: policy }).update({ accept_requests: true });
    // While the earlier policy applies, Change offers the choice again.
    const again = await rita.get(`/access-packages/${PKG.wiki}/request?resubmitOf=${requestId}`);
    const change = /<a href="([^"]+)"[^>]*>Change<span class="visually-hidden"> policy<\/span>/.exec(again.text)![1].replace(/&amp;/g, '&');
    const choose = await rita.get(change);
    expect(choose.text).toContain('Select a policy');
    expect(choose.text).toContain(`name="resubmitOf" value="${requestId}"`);
  });
});
