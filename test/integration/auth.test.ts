import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import supertest from 'supertest';
import type { Database } from '../../src/db/connect.ts';
import { createTestDatabase } from '../support/db.ts';
import { createTestApp, csrfFrom, seedDirectory, signIn, TEST_PASSWORD, type TestApp } from '../support/app.ts';
import { fabrikam, USER } from '../support/fixtures.ts';
import { accountKey, addressKey, reserveAttempt, THROTTLE } from '../../src/auth/throttle.ts';

let database: Database;
let t: TestApp;

beforeAll(async () => {
  database = await createTestDatabase();
  t = createTestApp(database);
  await seedDirectory(database, fabrikam(), t.clock);
  // The same person in a second directory, with the same password: sign-in must ask which.
  const second = fabrikam({ hint: 'contoso-two.test', name: 'Second Directory' });
  second.users = second.users.filter((u) => u.email === USER.requestor).map((u) => ({ ...u, manager: undefined }));
  second.groups = [];
  second.catalogs = [];
  await seedDirectory(database, second, t.clock);
});
afterAll(async () => {
  await database.close();
});

describe('signing in', () => {
  it('sends anonymous people to sign in and back to the page they wanted', async () => {
    const agent = supertest.agent(t.app);
    const res = await agent.get('/approvals?tab=history');
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/sign-in?returnTo=%2Fapprovals%3Ftab%3Dhistory');
    const page = await agent.get(res.headers.location);
    expect(page.text).toContain('name="returnTo" value="/approvals?tab=history"');
    const signed = await agent.post('/sign-in').type('form').send({ _csrf: csrfFrom(page.text), email: USER.other, password: TEST_PASSWORD, returnTo: '/approvals?tab=history' });
    expect(signed.status).toBe(303);
    expect(signed.headers.location).toBe('/approvals?tab=history');
  });

  it('never returns to another site', async () => {
    for (const returnTo of ['//evil.example/x', 'https://evil.example/', '/\\evil.example', 'javascript:alert(1)']) {
      const agent = supertest.agent(t.app);
      const page = await agent.get('/sign-in');
      const res = await agent.post('/sign-in').type('form').send({ _csrf: csrfFrom(page.text), email: USER.other, password: TEST_PASSWORD, returnTo });
      expect(res.headers.location).toBe('/');
    }
  });

  it('gives the same message and status for a wrong password and an unknown account', async () => {
    const agent = supertest.agent(t.app);
    const token = csrfFrom((await agent.get('/sign-in')).text);
    const wrong = await agent.post('/sign-in').type('form').send({ _csrf: token, email: USER.other, password: 'not-the-password' });
    const unknown = await agent.post('/sign-in').type('form').send({ _csrf: token, email: 'nobody@fabrikam.test', password: 'not-the-password' });
    for (const res of [wrong, unknown]) {
      expect(res.status).toBe(401);
      expect(res.text).toContain('Enter a correct email address and password');
      expect(res.text).toContain('<title>Error: Sign in');
    }
    expect(wrong.text).toContain(`value="${USER.other}"`);
    const failures = await database.db('audit_log').where({ action: 'signIn.failed' }).count('* as n');
    expect(Number(failures[0].n)).toBeGreaterThanOrEqual(2);
  });

  it('asks for the missing fields with an error summary linking to each', async () => {
    const agent = supertest.agent(t.app);
    const token = csrfFrom((await agent.get('/sign-in')).text);
    const res = await agent.post('/sign-in').type('form').send({ _csrf: token, email: '', password: '' });
    expect(res.status).toBe(422);
    expect(res.text).toContain('There is a problem');
    expect(res.text).toContain('<a href="#email">Enter your email address</a>');
    expect(res.text).toContain('<a href="#password">Enter your password</a>');
    expect(res.text).toMatch(/aria-describedby="email-error"/);
  });

  it('gives a new session id on sign-in and records the sign-in', async () => {
    const agent = supertest.agent(t.app);
    const page = await agent.get('/sign-in');
    const before = /portico=([^;]+)/.exec(page.headers['set-cookie'][0])![1];
    const res = await agent.post('/sign-in').type('form').send({ _csrf: csrfFrom(page.text), email: USER.manager, password: TEST_PASSWORD });
    const after = /portico=([^;]+)/.exec(res.headers['set-cookie'][0])![1];
    expect(after).not.toBe(before);
    expect(res.headers['set-cookie'][0]).toMatch(/HttpOnly/);
    expect(res.headers['set-cookie'][0]).toMatch(/SameSite=Lax/);
    const user = await database.db('users').where({ email: USER.manager }).first('last_sign_in_at');
    expect(user.last_sign_in_at).not.toBeNull();
    expect(await database.db('audit_log').where({ action: 'signIn.succeeded', actor_label: USER.manager }).first()).toBeTruthy();
  });

  it('asks which directory when the email and password match in two', async () => {
    const agent = supertest.agent(t.app);
    const page = await agent.get('/sign-in');
    const res = await agent.post('/sign-in').type('form').send({ _csrf: csrfFrom(page.text), email: USER.requestor, password: TEST_PASSWORD });
    expect(res.headers.location).toBe('/sign-in/directory');
    const choose = await agent.get('/sign-in/directory');
    expect(choose.text).toContain('Which directory do you want to sign in to?');
    expect(choose.text).toContain('Second Directory');
    expect(choose.text).toContain('Fabrikam');
    const empty = await agent.post('/sign-in/directory').type('form').send({ _csrf: csrfFrom(choose.text) });
    expect(empty.status).toBe(422);
    expect(empty.text).toContain('Choose the directory to sign in to');
    const second = await database.db('users as u').join('directories as d', 'd.id', 'u.directory_id').where({ 'u.email': USER.requestor, 'd.hint': 'contoso-two.test' }).first('u.id');
    const done = await agent.post('/sign-in/directory').type('form').send({ _csrf: csrfFrom(choose.text), account: second.id });
    expect(done.status).toBe(303);
    const home = await agent.get('/');
    expect(home.text).toContain('Second Directory');
  });

  it('answers as for a wrong password when the chosen account is disabled while choosing', async () => {
    const agent = supertest.agent(t.app);
    const page = await agent.get('/sign-in');
    await agent.post('/sign-in').type('form').send({ _csrf: csrfFrom(page.text), email: USER.requestor, password: TEST_PASSWORD });
    const choose = await agent.get('/sign-in/directory');
    const second = await database.db('users as u').join('directories as d', 'd.id', 'u.directory_id').where({ 'u.email': USER.requestor, 'd.hint': 'contoso-two.test' }).first('u.id');
    await database.db('users').where({ id: second.id }).update({ disabled_at: new Date() });
    try {
      const res = await agent.post('/sign-in/directory').type('form').send({ _csrf: csrfFrom(choose.text), account: second.id });
      expect(res.status).toBe(401);
      expect(res.text).toContain('Enter a correct email address and password');
      expect((await agent.get('/')).status).toBe(303);
    } finally {
      await database.db('users').where({ id: second.id }).update({ disabled_at: null });
    }
  });
  it('tells a locked-out person to wait until every lock on their attempt has ended', async () => {
    await database.db('sign_in_throttle').delete();
    const now = Date.now();
    const account = new Date(now + 5 * 60_000);
    const address = new Date(now + 12 * 60_000);
    await database.db('sign_in_throttle').insert([
      { key: accountKey(USER.lead), failures: THROTTLE.accountFailures, window_started_at: new Date(now - 60_000), locked_until: account },
      { key: addressKey('198.51.100.7'), failures: THROTTLE.addressFailures, window_started_at: new Date(now - 60_000), locked_until: address },
    ]);
    const keys = [{ key: accountKey(USER.lead), limit: THROTTLE.accountFailures }, { key: addressKey('198.51.100.7'), limit: THROTTLE.addressFailures }];
    expect(await reserveAttempt(database.db, keys)).toEqual(address);
    // Refused, it counted nothing.
    expect(await database.db('sign_in_throttle').orderBy('key').pluck('failures')).toEqual([THROTTLE.accountFailures, THROTTLE.addressFailures]);
    await database.db('sign_in_throttle').delete();
  });

  it('records a failed sign-in in the audit log of every directory where the email has an account', async () => {
    const agent = supertest.agent(t.app);
    const token = csrfFrom((await agent.get('/sign-in')).text);
    expect((await agent.post('/sign-in').type('form').send({ _csrf: token, email: USER.requestor, password: 'not-the-password' })).status).toBe(401);
    const hints = await database.db('audit_log as a').join('directories as d', 'd.id', 'a.directory_id').where('a.action', 'signIn.failed').whereRaw(`a.details->>'email' = ?`, [USER.requestor]).orderBy('d.hint').pluck('d.hint');
    expect(hints).toEqual(['contoso-two.test', 'fabrikam.test']);
    await database.db('sign_in_throttle').delete();
  });

  it('checks at most five passwords for an account however many attempts arrive at once, then refuses until the lock ends', async () => {
    const agents = await Promise.all(Array.from({ length: 20 }, async () => {
      const agent = supertest.agent(t.app);
      return { agent, token: csrfFrom((await agent.get('/sign-in')).text) };
    }));
    const results = await Promise.all(agents.map(({ agent, token }) => agent.post('/sign-in').type('form').send({ _csrf: token, email: USER.lead, password: 'not-the-password' })));
    const count = (status: number) => results.filter((r) => r.status === status).length;
    expect({ checked: count(401), refused: count(429) }).toEqual({ checked: THROTTLE.accountFailures, refused: 20 - THROTTLE.accountFailures });
    const audited = async (action: string) => Number((await database.db('audit_log').where({ action }).whereRaw(`details->>'email' = ?`, [USER.lead]).count('* as n'))[0].n);
    expect(await audited('signIn.failed')).toBe(THROTTLE.accountFailures);
    expect(await audited('signIn.throttled')).toBe(20 - THROTTLE.accountFailures);
    // In the directory's own audit log, where its administrators look.
    const fabrikam = (await database.db('directories').where({ hint: 'fabrikam.test' }).first('id')).id;
    expect(await database.db('audit_log').whereIn('action', ['signIn.failed', 'signIn.throttled']).whereRaw(`details->>'email' = ?`, [USER.lead]).distinct().pluck('directory_id')).toEqual([fabrikam]);
    const { agent, token } = agents[0];
    const right = await agent.post('/sign-in').type('form').send({ _csrf: token, email: USER.lead, password: TEST_PASSWORD });
    expect(right.status).toBe(429);
    expect(right.text).toMatch(/Too many failed attempts to sign in. Wait until \d\d:\d\d UTC, then try again./);
    // The throttle keeps wall-clock time: move it past the lock.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + THROTTLE.lockMs + 1000);
      const later = supertest.agent(t.app);
      const page = await later.get('/sign-in');
      const res = await later.post('/sign-in').type('form').send({ _csrf: csrfFrom(page.text), email: USER.lead, password: TEST_PASSWORD });
      expect(res.status).toBe(303);
    } finally {
      vi.useRealTimers();
      await database.db('sign_in_throttle').delete();
    }
  });
});

describe('the frame', () => {
  it('shows the directory, the person, Sign out and the navigation', async () => {
    const agent = await signIn(t.app, USER.other);
    const res = await agent.get('/');
    expect(res.status).toBe(200);
    expect(res.text).toContain('class="site-header__directory">Fabrikam<');
    expect(res.text).toContain('Otto Other');
    expect(res.text).toContain('>Sign out</button>');
    for (const label of ['Overview', 'Access packages', 'Request history', 'Approvals', 'Access reviews']) expect(res.text).toContain(`>${label}</a>`);
    expect(res.text).not.toContain('>Administration</a>');
    expect(res.text).toContain('<a class="skip-link" href="#main">');
    expect(res.text).toContain('<main id="main"');
    expect(res.text).toContain('role="status" aria-live="polite"');
    expect(res.text).toMatch(/<a href="\/" aria-current="page">Overview<\/a>/);
    // A page within a section marks the section's link as current, not as this page.
    const active = await agent.get('/access-packages/active');
    expect(active.text).toContain('<a href="/access-packages" aria-current="true">Access packages</a>');
    expect((await agent.get('/access-packages')).text).toContain('<a href="/access-packages" aria-current="page">Access packages</a>');
  });

  it('shows Administration to administrators and catalog owners', async () => {
    for (const email of [USER.admin, USER.manager]) {
      const agent = await signIn(t.app, email);
      expect((await agent.get('/')).text).toContain('>Administration</a>');
    }
  });

  it('answers unknown pages with a 404 page in the layout', async () => {
    const agent = await signIn(t.app, USER.other);
    const res = await agent.get('/no/such/page');
    expect(res.status).toBe(404);
    expect(res.text).toContain('<h1>Page not found</h1>');
    expect(res.text).toContain('class="site-nav"');
  });

  it('sets security headers and a strict content security policy', async () => {
    const res = await supertest(t.app).get('/sign-in');
    const csp = res.headers['content-security-policy'];
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("object-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-request-id']).toMatch(/^[\w-]{8,}$/);
  });

  it('serves fingerprinted assets with a long cache, and htmx from the npm package', async () => {
    const page = await supertest(t.app).get('/sign-in');
    const htmxUrl = /src="(\/assets\/vendor\/htmx\.min\.[0-9a-f]{10}\.js)"/.exec(page.text)![1];
    const res = await supertest(t.app).get(htmxUrl);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const { readFileSync } = await import('node:fs');
    expect(res.text).toBe(readFileSync('node_modules/htmx.org/dist/htmx.min.js', 'utf8'));
  });

  it('compresses pages and text assets for browsers that accept gzip, and sends them plain to others', async () => {
    const gzipped = await supertest(t.app).get('/sign-in').set('Accept-Encoding', 'gzip');
    const plain = await supertest(t.app).get('/sign-in').set('Accept-Encoding', 'identity');
    expect(gzipped.headers['content-encoding']).toBe('gzip');
    expect(plain.headers['content-encoding']).toBeUndefined();
    for (const res of [gzipped, plain]) expect(res.headers.vary).toMatch(/Accept-Encoding/i);
    const strip = (html: string) => html.replace(/name="_csrf" value="[^"]*"|"X-CSRF-Token": "[^"]*"/g, '');
    expect(strip(gzipped.text)).toBe(strip(plain.text));
    const cssUrl = /href="(\/assets\/css\/[^"]+\.css)"/.exec(plain.text)![1];
    const css = await supertest(t.app).get(cssUrl).set('Accept-Encoding', 'gzip, deflate');
    const cssPlain = await supertest(t.app).get(cssUrl).set('Accept-Encoding', 'identity');
    expect(css.headers['content-encoding']).toBe('gzip');
    expect(cssPlain.headers['content-encoding']).toBeUndefined();
    expect(css.text).toBe(cssPlain.text);
    expect(css.headers.etag).not.toBe(cssPlain.headers.etag);
  });

  it('answers the browser\'s request for /favicon.ico with 204, cached, and no session', async () => {
    const res = await supertest(t.app).get('/favicon.ico');
    expect(res.status).toBe(204);
    expect(res.headers['cache-control']).toBe('public, max-age=86400');
    expect(res.headers['set-cookie']).toBeUndefined();
  });

  it('reports health with the database', async () => {
    const res = await supertest(t.app).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });
});

describe('signing out and CSRF', () => {
  it('refuses a post without a valid token and changes nothing', async () => {
    const agent = await signIn(t.app, USER.other);
    const none = await agent.post('/sign-out').type('form').send({});
    expect(none.status).toBe(403);
    expect(none.text).toContain('This form has expired');
    const wrong = await agent.post('/sign-out').type('form').send({ _csrf: 'forged' });
    expect(wrong.status).toBe(403);
    expect((await agent.get('/')).status).toBe(200);
  });

  it('refuses a post from another site even with a token', async () => {
    const agent = await signIn(t.app, USER.other);
    const token = csrfFrom((await agent.get('/')).text);
    const res = await agent.post('/sign-out').set('Origin', 'https://evil.example').type('form').send({ _csrf: token });
    expect(res.status).toBe(403);
    const site = await agent.post('/sign-out').set('Sec-Fetch-Site', 'cross-site').type('form').send({ _csrf: token });
    expect(site.status).toBe(403);
    expect((await agent.get('/')).status).toBe(200);
  });

  it('signs out from a page whose session has already ended, without "This form has expired"', async () => {
    const agent = await signIn(t.app, USER.other);
    const token = csrfFrom((await agent.get('/')).text);
    const itsSession = () => database.db('sessions').whereRaw('sess::text like ?', [`%${token}%`]);
    expect(await itsSession().pluck('sid')).toHaveLength(1);
    await itsSession().delete();
    const res = await agent.post('/sign-out').type('form').send({ _csrf: token });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/sign-in?signedOut=1');
  });

  it('signs out with a POST that destroys the server-side session', async () => {
    const agent = await signIn(t.app, USER.admin);
    const sessionsBefore = await database.db('sessions').whereNotNull('user_id').count('* as n');
    const res = await agent.post('/sign-out').type('form').send({ _csrf: csrfFrom((await agent.get('/')).text) });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/sign-in?signedOut=1');
    expect((await agent.get('/')).status).toBe(303);
    const sessionsAfter = await database.db('sessions').whereNotNull('user_id').count('* as n');
    expect(Number(sessionsAfter[0].n)).toBe(Number(sessionsBefore[0].n) - 1);
  });
});
