import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import supertest from 'supertest';
import type { Database } from '../../src/db/connect.ts';
import { createTestDatabase } from '../support/db.ts';
import { createTestApp, seedDirectory, testConfig, type TestApp } from '../support/app.ts';
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
      users: [{ email: 'sam.sso@sso.test', displayName: 'Sam Sso' }],
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
