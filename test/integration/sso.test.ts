import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import supertest from 'supertest';
import type { Database } from '../../src/db/connect.ts';
import { createTestDatabase } from '../support/db.ts';
import { createTestApp, csrfFrom, seedDirectory, testConfig, type TestApp } from '../support/app.ts';
import { linkSsoIdentity } from '../../src/auth/data.ts';
import { loginAtProviderOverHttp, startOidcProvider, type TestIdentityProvider } from '../support/oidc-provider.ts';

// Portico's side runs in-process through supertest; its BASE_URL is what the provider redirects to.
const BASE = 'http://127.0.0.1:3000';
const CALLBACK = `${BASE}/sign-in/oidc/sso.test/callback`;

let database: Database;
let t: TestApp;
let idp: TestIdentityProvider;

beforeAll(async () => {
  database = await createTestDatabase();
  t = createTestApp(database, { config: testConfig({ BASE_URL: BASE }) });
  process.env.PORTICO_TEST_SSO_SECRET = 'sso-test-client-secret';
  idp = await startOidcProvider({ clientId: 'portico', clientSecret: 'sso-test-client-secret', redirectUris: [CALLBACK] });
  await seedDirectory(
    database,
    {
      directory: { hint: 'sso.test', name: 'Single Sign-On Corp', signIn: { oidc: { issuer: idp.issuer, clientId: 'portico', clientSecretEnv: 'PORTICO_TEST_SSO_SECRET' } } },
      users: [{ email: 'sam.sso@sso.test', displayName: 'Sam Sso' }, { email: 'ada.sso@sso.test', displayName: 'Ada Sso', roles: ['admin'] }],
    },
    t.clock,
  );
});
afterAll(async () => {
  await idp?.close();
  await database?.close();
});

/** Starts sign-in at Portico, logs in at the provider, and returns the agent and the provider's callback URL. */
async function startAndLogin(login: string) {
  const agent = supertest.agent(t.app);
  const start = await agent.get('/sign-in/oidc/sso.test?returnTo=%2Frequests&force=1');
  expect(start.status).toBe(302);
  const callback = await loginAtProviderOverHttp(start.headers.location, login, CALLBACK);
  return { agent, callback: new URL(callback) };
}

describe('the single sign-on callback', () => {
  it('signs in with a genuine response and returns where the person was going', async () => {
    const { agent, callback } = await startAndLogin('sam.sso@sso.test');
    const res = await agent.get(callback.pathname + callback.search);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/requests');
    expect((await agent.get('/requests')).status).toBe(200);
  });

  it('refuses a tampered state, a replayed code and a response without state, and signs nobody in', async () => {
    const { agent, callback } = await startAndLogin('sam.sso@sso.test');
    const tampered = new URL(callback);
    tampered.searchParams.set('state', 'tampered');
    const res = await agent.get(tampered.pathname + tampered.search);
    expect(res.status).toBe(400);
    expect(res.text).toContain('Sign-in could not be completed');
    expect((await agent.get('/requests')).status).toBe(303);
    // The state data was used up: the genuine response cannot be replayed afterwards either.
    const replay = await agent.get(callback.pathname + callback.search);
    expect(replay.status).toBe(400);
    const stranger = supertest.agent(t.app);
    const forged = await stranger.get(callback.pathname + callback.search);
    expect(forged.status).toBe(400);
    expect((await stranger.get('/requests')).status).toBe(303);
    const failures = await database.db('audit_log').where({ action: 'signIn.failed' }).whereRaw(`details ->> 'method' = 'oidc'`).count('* as n');
    expect(Number(failures[0].n)).toBeGreaterThanOrEqual(3);
  });

  it('answers an unknown account with 403 and a page that names the address', async () => {
    const { agent, callback } = await startAndLogin('stranger@sso.test');
    const res = await agent.get(callback.pathname + callback.search);
    expect(res.status).toBe(403);
    expect(res.text).toContain('Portico has no account for that address in Single Sign-On Corp');
    expect(res.text).toContain('stranger@sso.test');
    // Both ways on keep where the person was going.
    expect(res.text).toContain('href="/sign-in?returnTo=%2Frequests">Sign in another way</a>');
    expect(res.text).toContain('href="/sign-in/oidc/sso.test?returnTo=%2Frequests&amp;force=1"');
  });

  it('links an account to the provider’s identity at its first sign-in, and refuses another identity with the same address until an administrator unlinks it', async () => {
    const signInAs = async (login: string) => {
      const { agent, callback } = await startAndLogin(login);
      return { agent, res: await agent.get(callback.pathname + callback.search) };
    };
    // The provider's subject is the login as typed, its email the login in lower case.
    expect((await signInAs('sam.sso@sso.test')).res.status).toBe(303);
    const linked = await database.db('users').where({ email: 'sam.sso@sso.test' }).first('id', 'sso_issuer', 'sso_subject');
    expect(linked).toMatchObject({ sso_issuer: idp.issuer, sso_subject: 'sam.sso@sso.test' });
    // Another identity at the provider now has Sam's address: refused, nobody signed in.
    const other = await signInAs('SAM.SSO@sso.test');
    expect(other.res.status).toBe(403);
    expect(other.res.text).toContain('This account signs in with another identity');
    expect(other.res.text).toContain('ask your Portico administrator to unlink single sign-on from your Portico account');
    expect((await other.agent.get('/requests')).status).toBe(303);
    expect(await database.db('audit_log').where({ action: 'signIn.failed' }).whereRaw(`details ->> 'reason' = 'otherIdentity'`).count('* as n')).toEqual([{ n: 1 }]);

    // An administrator unlinks it from Sam's page; the next identity to sign in is linked.
    const ada = (await signInAs('ada.sso@sso.test')).agent;
    const page = await ada.get(`/admin/users/${linked.id}`);
    expect(page.text).toContain('Linked to the identity <code>sam.sso@sso.test</code>');
    const unlinked = await ada.post(`/admin/users/${linked.id}/unlink-sso`).type('form').send({ _csrf: csrfFrom(page.text) });
    expect(unlinked.status).toBe(303);
    expect((await ada.get(unlinked.headers.location)).text).toContain('Single sign-on unlinked from sam.sso@sso.test.');
    expect(await database.db('audit_log').where({ action: 'user.ssoUnlinked', target_id: linked.id }).count('* as n')).toEqual([{ n: 1 }]);
    expect((await signInAs('SAM.SSO@sso.test')).res.status).toBe(303);
    expect((await database.db('users').where({ id: linked.id }).first('sso_subject')).sso_subject).toBe('SAM.SSO@sso.test');
    expect((await signInAs('sam.sso@sso.test')).res.status).toBe(403);
    // Without a CSRF token nothing is unlinked.
    expect((await ada.post(`/admin/users/${linked.id}/unlink-sso`).type('form').send({})).status).toBe(403);
    expect((await database.db('users').where({ id: linked.id }).first('sso_subject')).sso_subject).toBe('SAM.SSO@sso.test');
  });

  it('refuses an identity that already signs in to another account', async () => {
    const { agent, callback } = await startAndLogin('ada.sso@sso.test');
    expect((await agent.get(callback.pathname + callback.search)).status).toBe(303);
    // Ada's address changes at the provider to one of another Portico account: her identity stays hers.
    const carl = await database.db('users').insert({ directory_id: (await database.db('directories').where({ hint: 'sso.test' }).first('id')).id, email: 'carl.sso@sso.test', display_name: 'Carl Sso', type: 'member' }).returning('id');
    const ada = await database.db('users').where({ email: 'ada.sso@sso.test' }).first('sso_issuer', 'sso_subject');
    try {
      await database.db('users').where({ id: carl[0].id }).update({ sso_issuer: ada.sso_issuer, sso_subject: 'carl-at-the-provider' });
      expect(await linkSsoIdentity(database.db, carl[0].id, ada.sso_issuer, ada.sso_subject)).toBe('otherIdentity');
      await database.db('users').where({ id: carl[0].id }).update({ sso_issuer: null, sso_subject: null });
      expect(await linkSsoIdentity(database.db, carl[0].id, ada.sso_issuer, ada.sso_subject)).toBe('identityTaken');
      expect((await database.db('users').where({ id: carl[0].id }).first('sso_subject')).sso_subject).toBeNull();
    } finally {
      await database.db('users').where({ id: carl[0].id }).delete();
    }
  });

  it('says clearly when the client secret is missing', async () => {
    const saved = process.env.PORTICO_TEST_SSO_SECRET;
    delete process.env.PORTICO_TEST_SSO_SECRET;
    try {
      const fresh = createTestApp(database, { config: testConfig({ BASE_URL: BASE }) });
      const res = await supertest(fresh.app).get('/sign-in/oidc/sso.test');
      expect(res.status).toBe(503);
      expect(res.text).toContain('environment variable PORTICO_TEST_SSO_SECRET');
    } finally {
      process.env.PORTICO_TEST_SSO_SECRET = saved;
    }
  });
});
