import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import supertest from 'supertest';
import type { Database } from '../../src/db/connect.ts';
import { createTestDatabase } from '../support/db.ts';
import { createTestApp, csrfFrom, seedDirectory, signIn, TEST_PASSWORD, type Agent, type TestApp } from '../support/app.ts';
import { fabrikam, PKG, USER, withOtherPackageIds } from '../support/fixtures.ts';

let database: Database;
let t: TestApp;

beforeAll(async () => {
  database = await createTestDatabase();
  t = createTestApp(database);
  await seedDirectory(database, fabrikam(), t.clock);
  await seedDirectory(database, withOtherPackageIds(fabrikam({ hint: 'contoso.test', name: 'Contoso' }), 'c2'), t.clock);
});
afterAll(async () => {
  await database.close();
});

const cookieOf = (res: { headers: Record<string, unknown> }) => {
  const set = res.headers['set-cookie'] as string[] | undefined;
  return set?.map((c) => /^portico=([^;]+)/.exec(c)?.[1]).find(Boolean);
};

/** Follows the sign-in form the page shows, as a browser would. */
async function signInThroughForm(agent: Agent, path: string, email: string) {
  const page = await agent.get(path);
  const fields = Object.fromEntries([...page.text.matchAll(/<input type="hidden" name="(\w+)" value="([^"]*)">/g)].map((m) => [m[1], m[2].replaceAll('&#39;', "'").replaceAll('&amp;', '&')]));
  return { page, res: await agent.post('/sign-in').type('form').send({ ...fields, email, password: TEST_PASSWORD }) };
}

describe('directory-hint links', () => {
  it('asks an anonymous person to sign in to that directory, then opens the package', async () => {
    const agent = supertest.agent(t.app);
    const link = await agent.get(`/@fabrikam.test/access-packages/${PKG.wiki}`);
    expect(link.status).toBe(303);
    expect(link.headers.location).toBe(`/sign-in?directory=fabrikam.test&returnTo=%2Faccess-packages%2F${PKG.wiki}&force=1`);
    const { page, res } = await signInThroughForm(agent, link.headers.location, USER.requestor);
    expect(page.text).toContain('<h1>Sign in to Fabrikam</h1>');
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(`/access-packages/${PKG.wiki}`);
    expect((await agent.get(res.headers.location)).text).toContain('Wiki editors');
    // With a trailing slash it is the same link, and forces the sign-in all the same.
    expect((await agent.get(`/@fabrikam.test/access-packages/${PKG.wiki}/`)).headers.location).toContain('&force=1');
  });

  it('makes a signed-in person sign in again, with a new session', async () => {
    const agent = await signIn(t.app, USER.requestor);
    const before = await database.db('sessions').whereNotNull('user_id').pluck('sid');
    const link = await agent.get(`/@fabrikam.test/access-packages/${PKG.wiki}`);
    expect(link.headers.location).toContain('/sign-in?directory=fabrikam.test');
    // The old session is over: the portal asks to sign in.
    expect((await agent.get('/requests')).status).toBe(303);
    const { res } = await signInThroughForm(agent, link.headers.location, USER.requestor);
    expect(res.headers.location).toBe(`/access-packages/${PKG.wiki}`);
    const after = await database.db('sessions').whereNotNull('user_id').pluck('sid');
    const fresh = after.filter((sid) => !before.includes(sid));
    expect(fresh).toHaveLength(1);
    expect(cookieOf(res)).toContain(fresh[0]);
    expect(await database.db('audit_log').where({ action: 'signOut' }).count('* as n')).not.toEqual([{ n: 0 }]);
  });

  it('signs in to the linked directory only, even when the email exists in another one', async () => {
    const agent = supertest.agent(t.app);
    const link = await agent.get(`/@contoso.test/access-packages/${PKG.wiki.slice(0, -2)}c2`);
    const { res } = await signInThroughForm(agent, link.headers.location, USER.requestor);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(`/access-packages/${PKG.wiki.slice(0, -2)}c2`);
    expect((await agent.get('/')).text).toContain('class="site-header__directory">Contoso<');
  });

  it('lands on Access packages from /@<hint>, and goes straight through other links when already signed in', async () => {
    const agent = supertest.agent(t.app);
    const home = await agent.get('/@fabrikam.test');
    expect(home.headers.location).toBe('/sign-in?directory=fabrikam.test&returnTo=%2Faccess-packages&force=1');
    const { res } = await signInThroughForm(agent, home.headers.location, USER.other);
    expect(res.headers.location).toBe('/access-packages');
    const approvals = await agent.get('/@fabrikam.test/approvals/history');
    expect(approvals.status).toBe(303);
    expect(approvals.headers.location).toBe('/approvals/history');
    // A query too long to carry is dropped, not the page it goes with.
    expect((await agent.get(`/@fabrikam.test/approvals/history?note=${'x'.repeat(2100)}`)).headers.location).toBe('/approvals/history');
    const elsewhere = await agent.get('/@contoso.test/approvals');
    expect(elsewhere.headers.location).toBe('/sign-in?directory=contoso.test&returnTo=%2Fapprovals&force=0');
    // The query string goes along, through sign-in, to the page it names (signed out by the link above).
    const search = await agent.get('/@fabrikam.test/access-packages?q=wiki&field=name');
    expect(search.headers.location).toBe(`/sign-in?directory=fabrikam.test&returnTo=${encodeURIComponent('/access-packages?q=wiki&field=name')}&force=0`);
    const signedIn = await signInThroughForm(agent, search.headers.location, USER.other);
    expect(signedIn.res.headers.location).toBe('/access-packages?q=wiki&field=name');
    expect((await agent.get('/@fabrikam.test/access-packages?q=wiki')).headers.location).toBe('/access-packages?q=wiki');
    const forced = await agent.get(`/@fabrikam.test/access-packages/${PKG.wiki}?policy=x`);
    expect(forced.headers.location).toBe(`/sign-in?directory=fabrikam.test&returnTo=${encodeURIComponent(`/access-packages/${PKG.wiki}?policy=x`)}&force=1`);
  });

  it('answers an unknown directory with a clear not-found page', async () => {
    const res = await supertest(t.app).get('/@no-such.example/access-packages/' + PKG.wiki);
    expect(res.status).toBe(404);
    expect(res.text).toContain('Directory not found');
    expect(res.text).toContain('Portico has no directory called “no-such.example”');
    expect((await supertest(t.app).get('/sign-in/oidc/no-such.example')).status).toBe(404);
    // A directory that signs in with passwords is not "not found" on the single sign-on path: it has its own sign-in page.
    const passwords = await supertest(t.app).get('/sign-in/oidc/fabrikam.test?returnTo=%2Frequests');
    expect(passwords.status).toBe(303);
    expect(passwords.headers.location).toBe('/sign-in?directory=fabrikam.test&returnTo=%2Frequests');
  });

  it('explains after sign-in when the package cannot be requested', async () => {
    const agent = supertest.agent(t.app);
    const link = await agent.get(`/@fabrikam.test/access-packages/${PKG.adminOnly}`);
    const { res } = await signInThroughForm(agent, link.headers.location, USER.requestor);
    const page = await agent.get(res.headers.location);
    expect(page.status).toBe(404);
    expect(page.text).toContain('This access package is unavailable');
  });

  it('gives catalog owners and administrators the link to share, and nobody else', async () => {
    for (const email of [USER.manager, USER.admin]) {
      const agent = await signIn(t.app, email);
      const res = await agent.get(`/access-packages/${PKG.adminOnly}`);
      expect(res.status).toBe(200);
      expect(res.text).toContain(`value="http://127.0.0.1:3000/@fabrikam.test/access-packages/${PKG.adminOnly}"`);
    }
    const rita = await signIn(t.app, USER.requestor);
    expect((await rita.get(`/access-packages/${PKG.wiki}`)).text).not.toContain('Link to this access package');
  });
});

describe('sign-in throttling', () => {
  it('refuses an account after five failures with 429, even with the right password, and says until when', async () => {
    const agent = supertest.agent(t.app);
    const token = csrfFrom((await agent.get('/sign-in')).text);
    for (let i = 0; i < 5; i++) {
      expect((await agent.post('/sign-in').type('form').send({ _csrf: token, email: USER.lead, password: 'wrong' })).status).toBe(401);
    }
    const locked = await agent.post('/sign-in').type('form').send({ _csrf: token, email: USER.lead, password: TEST_PASSWORD });
    expect(locked.status).toBe(429);
    expect(locked.text).toMatch(/Too many failed attempts to sign in. Wait until \d\d:\d\d UTC, then try again./);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    // Another account from the same address still signs in.
    const other = await agent.post('/sign-in').type('form').send({ _csrf: token, email: USER.noManager, password: TEST_PASSWORD });
    expect(other.status).toBe(303);
    await database.db('sign_in_throttle').delete();
  });

  it('refuses an address after thirty failures across accounts', async () => {
    const agent = supertest.agent(t.app);
    const token = csrfFrom((await agent.get('/sign-in')).text);
    for (let i = 0; i < 30; i++) {
      await agent.post('/sign-in').type('form').send({ _csrf: token, email: `nobody${i}@fabrikam.test`, password: 'wrong' });
    }
    const res = await agent.post('/sign-in').type('form').send({ _csrf: token, email: USER.approver, password: TEST_PASSWORD });
    expect(res.status).toBe(429);
    await database.db('sign_in_throttle').delete();
  });
});

describe('sessions', () => {
  it('ends the sessions of a disabled user at their next request', async () => {
    const agent = await signIn(t.app, USER.approver);
    expect((await agent.get('/')).status).toBe(200);
    await database.db('users').where({ email: USER.approver }).update({ disabled_at: new Date() });
    try {
      expect((await agent.get('/')).status).toBe(303);
    } finally {
      await database.db('users').where({ email: USER.approver }).update({ disabled_at: null });
    }
  });

  it('ends a session at its absolute lifetime, however active', async () => {
    const signedInLongAgo = async () => {
      const agent = await signIn(t.app, USER.approver);
      const [row] = await database.db('sessions').whereNotNull('user_id').orderBy('created_at', 'desc').limit(1).select('sid', 'sess');
      await database.db('sessions').where({ sid: row.sid }).update({ sess: JSON.stringify({ ...row.sess, signedInAt: Date.now() - 13 * 3600_000 }) });
      return agent;
    };
    expect((await (await signedInLongAgo()).get('/')).status).toBe(303);
    // An ended session does not lose a directory-hint link's directory, nor the sign-in page's.
    const link = await (await signedInLongAgo()).get(`/@fabrikam.test/access-packages/${PKG.wiki}`);
    expect(link.headers.location).toBe(`/sign-in?directory=fabrikam.test&returnTo=%2Faccess-packages%2F${PKG.wiki}&force=1`);
    const page = await (await signedInLongAgo()).get('/sign-in?directory=fabrikam.test&returnTo=%2Frequests&force=1');
    expect(page.status).toBe(200);
    expect(page.text).toContain('<h1>Sign in to Fabrikam</h1>');
  });

  it('uses a __Host- cookie that is Secure in production, with HSTS', async () => {
    const { testConfig } = await import('../support/app.ts');
    const prod = createTestApp(database, { config: testConfig({ NODE_ENV: 'production', TRUST_PROXY: 'true', BASE_URL: 'https://portico.example' }) });
    const res = await supertest(prod.app).get('/sign-in').set('X-Forwarded-Proto', 'https');
    const cookie = (res.headers['set-cookie'] as unknown as string[])[0];
    expect(cookie).toMatch(/^__Host-portico=/);
    expect(cookie).toMatch(/; Secure/);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Lax/);
    expect(cookie).toMatch(/; Path=\//);
    expect(cookie).not.toMatch(/Domain=/);
    expect(res.headers['strict-transport-security']).toContain('max-age=63072000');
  });
});
