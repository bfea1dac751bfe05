import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { Database } from '../../src/db/connect.ts';
import { createTestDatabase } from '../support/db.ts';
import { seedDirectory, TEST_PASSWORD } from '../support/app.ts';
import { expectAccessible, signInWithBrowser, startBrowserHarness, visit, type BrowserHarness } from '../support/browser.ts';
import { fabrikam, PKG, USER } from '../support/fixtures.ts';
import { startOidcProvider, type TestIdentityProvider } from '../support/oidc-provider.ts';

const SSO_PACKAGE = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
const SSO_USER = 'sam.sso@sso.test';

let database: Database;
let h: BrowserHarness;
let idp: TestIdentityProvider;

beforeAll(async () => {
  database = await createTestDatabase();
  h = await startBrowserHarness(database);
  await seedDirectory(database, fabrikam(), h.clock);
  process.env.PORTICO_TEST_SSO_SECRET = 'sso-test-client-secret';
  idp = await startOidcProvider({
    clientId: 'portico',
    clientSecret: 'sso-test-client-secret',
    redirectUris: [`${h.baseUrl}/sign-in/oidc/sso.test/callback`],
  });
  await seedDirectory(
    database,
    {
      directory: { hint: 'sso.test', name: 'Single Sign-On Corp', signIn: { oidc: { issuer: idp.issuer, clientId: 'portico', clientSecretEnv: 'PORTICO_TEST_SSO_SECRET' } } },
      users: [{ email: SSO_USER, displayName: 'Sam Sso' }],
      catalogs: [
        {
          name: 'Tools',
          resources: [{ key: 'tool', type: 'application', name: 'Tool', roles: ['User'] }],
          accessPackages: [
            { id: SSO_PACKAGE, name: 'Tool users', description: 'Use the tool.', resourceRoles: [{ resource: 'tool', role: 'User' }], policies: [{ name: 'Everyone', requestors: { scope: 'allMembers' }, approval: null, expiration: { afterDays: 30 } }] },
          ],
        },
      ],
    },
    h.clock,
  );
});
afterAll(async () => {
  await h?.close();
  await idp?.close();
  await database?.close();
});

/** The provider's development login and consent pages (not ours: no axe there). */
async function loginAtProvider(page: Page, login: string) {
  await page.waitForURL((u) => u.origin === idp.issuer);
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', 'any password');
  await page.click('button[type="submit"]');
  await page.waitForLoadState('load');
  if (new URL(page.url()).origin === idp.issuer && (await page.locator('button[type="submit"]').count())) {
    await page.click('button[type="submit"]'); // consent
  }
  await page.waitForURL((u) => u.origin === h.baseUrl);
}

describe('single sign-on through OpenID Connect', () => {
  it('signs in from a directory-hint link, and asks the provider to authenticate again the next time', async () => {
    const page = await h.newPage();
    await page.goto(`/@sso.test/access-packages/${SSO_PACKAGE}`);
    const authorize = new URL(page.url());
    expect(authorize.origin).toBe(idp.issuer);
    await loginAtProvider(page, SSO_USER);
    expect(new URL(page.url()).pathname).toBe(`/access-packages/${SSO_PACKAGE}`);
    await expectAccessible(page, 'package after single sign-on');
    expect(await page.getByRole('heading', { name: 'Tool users' }).count()).toBe(1);
    expect(await page.textContent('header')).toContain('Sam Sso');

    // The same link again, while signed in: the provider is asked for a fresh login.
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`/@sso.test/access-packages/${SSO_PACKAGE}`);
    await page.waitForURL((u) => u.origin === idp.issuer);
    const auth = requests.map((u) => new URL(u)).find((u) => u.origin === idp.issuer && u.searchParams.has('client_id'))!;
    expect(auth.searchParams.get('prompt')).toBe('login');
    expect(auth.searchParams.get('max_age')).toBe('0');
    expect(auth.searchParams.get('code_challenge_method')).toBe('S256');
    expect(auth.searchParams.get('state')).toBeTruthy();
    expect(auth.searchParams.get('nonce')).toBeTruthy();
    expect(await page.locator('input[name="login"]').count()).toBe(1);
    await loginAtProvider(page, SSO_USER);
    expect(new URL(page.url()).pathname).toBe(`/access-packages/${SSO_PACKAGE}`);
    const signIns = await database.db('audit_log').where({ action: 'signIn.succeeded' }).whereRaw(`details ->> 'method' = 'oidc'`).count('* as n');
    expect(Number(signIns[0].n)).toBe(2);
    await page.context().close();
  });

  it('refuses an account the directory does not have, with a page that says so', async () => {
    const page = await h.newPage();
    await page.goto(`/@sso.test/access-packages/${SSO_PACKAGE}`);
    await loginAtProvider(page, 'stranger@sso.test');
    await expectAccessible(page, 'unknown account');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('No account in this directory');
    expect(await page.textContent('main')).toContain('Portico has no account for that address in Single Sign-On Corp');
    await page.goto('/');
    expect(new URL(page.url()).pathname).toBe('/sign-in');
    await page.context().close();
  });

  it('starts single sign-on from the sign-in page by directory name', async () => {
    const page = await h.newPage();
    await visit(page, '/sign-in');
    await page.getByRole('link', { name: 'Sign in with single sign-on' }).click();
    await expectAccessible(page, 'sso form');
    await page.getByLabel('Your organization’s directory').fill('nowhere.test');
    await page.getByRole('button', { name: 'Continue' }).click();
    await expectAccessible(page, 'sso form error');
    expect(await page.textContent('main')).toContain('No directory called “nowhere.test” signs in with single sign-on.');
    await page.getByLabel('Your organization’s directory').fill('sso.test');
    await page.getByRole('button', { name: 'Continue' }).click();
    await loginAtProvider(page, SSO_USER);
    expect(new URL(page.url()).pathname).toBe('/');
    await page.context().close();
  });
});

describe.each([
  { js: true, mode: 'with JavaScript' },
  { js: false, mode: 'without JavaScript' },
])('password directory-hint links $mode', ({ js }) => {
  it('make a signed-in person sign in again and open the package', async () => {
    const page = await h.newPage({ javaScript: js });
    await signInWithBrowser(page, USER.requestor);
    const before = (await page.context().cookies()).find((c) => c.name === 'portico')!.value;
    await page.goto(`/@fabrikam.test/access-packages/${PKG.wiki}`);
    expect(new URL(page.url()).pathname).toBe('/sign-in');
    await expectAccessible(page, 'sign in to Fabrikam');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Sign in to Fabrikam');
    await page.getByLabel('Email address').fill(USER.requestor);
    await page.getByLabel('Password').fill(TEST_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`**/access-packages/${PKG.wiki}`);
    await expectAccessible(page, 'package from link');
    expect(await page.getByRole('heading', { name: 'Wiki editors' }).count()).toBe(1);
    const after = (await page.context().cookies()).find((c) => c.name === 'portico')!.value;
    expect(after).not.toBe(before);
    await page.context().close();
  });

  it(`follow the My Access fragment form ${js ? 'to the package' : 'to Access packages'}`, async () => {
    const page = await h.newPage({ javaScript: js });
    await page.goto(`/@fabrikam.test#/access-packages/${PKG.wiki}`);
    await page.getByLabel('Email address').fill(USER.requestor);
    await page.getByLabel('Password').fill(TEST_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => !u.pathname.startsWith('/sign-in'));
    expect(new URL(page.url()).pathname).toBe(js ? `/access-packages/${PKG.wiki}` : '/access-packages');
    await expectAccessible(page, 'after fragment link');
    await page.context().close();
  });

  it('show a clear page for an unknown directory', async () => {
    const page = await h.newPage({ javaScript: js });
    await visit(page, '/@unknown.example/access-packages/' + PKG.wiki);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Directory not found');
    await page.context().close();
  });
});
