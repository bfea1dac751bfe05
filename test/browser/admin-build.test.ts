import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { Database } from '../../src/db/connect.ts';
import { expectAccessible, htmxSettled, closeSeededBrowser, signInWithBrowser, startSeededBrowser, visit, type BrowserHarness } from '../support/browser.ts';
import { PKG, USER } from '../support/fixtures.ts';

let database: Database;
let h: BrowserHarness;

beforeAll(async () => ({ database, h } = await startSeededBrowser()));
afterAll(() => closeSeededBrowser(h, database));

/** Clicks a button of the policy editor: htmx swaps the form with JavaScript; without, the page reloads. */
async function press(page: Page, js: boolean, name: string, label: string) {
  const button = page.getByRole('button', { name, exact: true });
  if (js) {
    await button.click();
    await htmxSettled(page);
  } else {
    await Promise.all([page.waitForEvent('framenavigated'), button.click()]);
    await page.waitForLoadState('load');
  }
  await expectAccessible(page, label);
}

/** Follows a link or submits a form that loads another page. */
async function go(page: Page, click: () => Promise<void>, url: RegExp, label: string) {
  await Promise.all([page.waitForURL(url), click()]);
  await page.waitForLoadState('load');
  await expectAccessible(page, label);
}

async function after(page: Page, js: boolean, label: string) {
  if (js) await htmxSettled(page);
  await page.waitForLoadState('load');
  await expectAccessible(page, label);
}

describe.each([
  { js: true, mode: 'with JavaScript', suffix: 'A' },
  { js: false, mode: 'without JavaScript', suffix: 'B' },
])('an administrator $mode', ({ js, suffix }) => {
  it('builds a catalog, a resource and a package with a two-stage policy and two questions; a user requests it and it is approved', async () => {
    const admin = await h.newPage({ javaScript: js });
    await signInWithBrowser(admin, USER.admin);
    await go(admin, () => admin.getByRole('link', { name: 'Administration' }).click(), /\/admin$/, 'administration');
    await go(admin, () => admin.getByRole('link', { name: 'Create a catalog' }).click(), /\/admin\/catalogs\/new$/, 'new catalog');
    await go(admin, () => admin.getByRole('button', { name: 'Create catalog' }).click(), /\/admin\/catalogs$/, 'new catalog error');
    expect(await admin.getByRole('link', { name: 'Enter a name for the catalog' }).count()).toBe(1);
    await admin.getByLabel('Name', { exact: true }).fill(`Labs ${suffix}`);
    await admin.getByRole('checkbox', { name: 'Enabled' }).check();
    await go(admin, () => admin.getByRole('button', { name: 'Create catalog' }).click(), /\/admin\/catalogs\/[0-9a-f-]{36}$/, 'catalog page');
    await go(admin, () => admin.getByRole('link', { name: 'Add a resource' }).click(), /\/resources\/new$/, 'resource form');
    await admin.getByLabel('Name', { exact: true }).fill(`Lab Console ${suffix}`);
    await admin.getByLabel('Key').fill(`lab-console-${suffix}`);
    await admin.getByLabel('Application').check();
    await admin.getByLabel('Roles').fill('User\nAdmin');
    await go(admin, () => admin.getByRole('button', { name: 'Add resource' }).click(), /\/admin\/catalogs\/[0-9a-f-]{36}$/, 'catalog with resource');
    expect(await admin.textContent('main')).toContain(`Resource Lab Console ${suffix} saved.`);

    await go(admin, () => admin.getByRole('link', { name: 'Create an access package' }).click(), /\/access-packages\/new$/, 'package form');
    await admin.getByLabel('Name', { exact: true }).fill(`Lab console users ${suffix}`);
    await admin.getByLabel(`Lab Console ${suffix}: User`).check();
    await go(admin, () => admin.getByRole('button', { name: 'Create access package' }).click(), /\/admin\/access-packages\/[0-9a-f-]{36}$/, 'package page');
    const packageUrl = admin.url();

    await go(admin, () => admin.getByRole('link', { name: 'Add a policy' }).click(), /\/policies\/new$/, 'policy editor');
    await admin.getByLabel('Name', { exact: true }).fill('Members: two approvals');
    await admin.getByLabel('All members of the directory').check();
    await press(admin, js, 'Add a stage', 'policy editor with two stages');
    await expect.poll(() => admin.getByRole('heading', { name: 'Stage 2' }).count()).toBe(1);
    await admin.locator('#stage-1-approversUsers').fill(USER.approver);
    await admin.locator('#stage-1-timeoutDays').fill('7');
    await press(admin, js, 'Add a question', 'one question');
    await admin.locator('#question-0-text').fill('Which experiment?');
    await admin.locator('#question-0-key').fill('experiment');
    await press(admin, js, 'Add a question', 'two questions');
    await expect.poll(() => admin.getByRole('heading', { name: 'Question 2' }).count()).toBe(1);
    expect(await admin.locator('#question-0-text').inputValue()).toBe('Which experiment?');
    await admin.locator('#question-1-text').fill('Which lab?');
    await admin.locator('#question-1-key').fill('lab');
    await admin.locator('#question-1-type-3').check();
    await admin.locator('#question-1-choices').fill('North\nSouth');
    await go(admin, () => admin.getByRole('button', { name: 'Save policy' }).click(), new RegExp(`${packageUrl}$`), 'package with policy');
    expect(await admin.textContent('main')).toContain('Policy Members: two approvals saved.');
    const shareLink = await admin.locator('#share-link').inputValue();
    expect(shareLink).toMatch(/\/@fabrikam\.test\/access-packages\/[0-9a-f-]{36}$/);

    // A requestor finds it and requests it.
    const otto = await h.newPage({ javaScript: js });
    await signInWithBrowser(otto, USER.other);
    await visit(otto, `/access-packages?q=${encodeURIComponent(`Lab console users ${suffix}`)}`);
    await otto.getByRole('link', { name: `Request access to Lab console users ${suffix}` }).click();
    await after(otto, js, 'request form');
    await otto.getByLabel('Which experiment?').fill('EXP-1');
    await otto.getByRole('group', { name: 'Which lab?' }).getByLabel('South').check();
    await otto.getByLabel('Business justification').fill('Running the experiment.');
    await otto.getByRole('button', { name: 'Submit' }).click();
    await after(otto, js, 'submitted');
    await expect.poll(() => otto.getByText('Max Manager must approve it by').count()).toBe(1);

    // Both stages approve.
    for (const [email, name] of [[USER.manager, 'Max Manager'], [USER.approver, 'Apu Approver']] as const) {
      const approver = await h.newPage({ javaScript: js });
      await signInWithBrowser(approver, email);
      await visit(approver, '/approvals');
      await approver.getByRole("link", { name: `Review the request from Otto Other for Lab console users ${suffix}` }).click();
      await after(approver, js, `${name} pane`);
      expect(await approver.textContent('main')).toContain('EXP-1');
      await approver.getByRole('button', { name: 'Approve', exact: true }).click();
      await after(approver, js, `${name} approved`);
      await expect.poll(() => approver.getByText(/You approved the request from Otto Other/).count()).toBe(1);
      await approver.context().close();
    }
    await visit(otto, '/access-packages/active');
    expect(await otto.getByRole('row', { name: new RegExp(`Lab console users ${suffix}.*Delivered`) }).count()).toBe(1);
    await admin.context().close();
    await otto.context().close();
  });

  it('finds incompatible packages by name in a directory with too many to list, and saves the one ticked', async () => {
    const db = database.db;
    const { directory_id } = await db('access_packages').where({ id: PKG.billingSubmit }).first('directory_id');
    const [{ id: crowded }] = await db('catalogs').insert({ directory_id, name: `Crowded ${suffix}` }).returning('id');
    await db.raw(`insert into access_packages (directory_id, catalog_id, name) select :directory_id, :crowded, :prefix || lpad(n::text, 3, '0') from generate_series(1, 120) as n`, { directory_id, crowded, prefix: `Crowd ${suffix} ` });
    try {
      const admin = await h.newPage({ javaScript: js });
      await signInWithBrowser(admin, USER.admin);
      await visit(admin, `/admin/access-packages/${PKG.billingSubmit}`);
      await expectAccessible(admin, 'package page, many packages');
      expect(await admin.getByRole('checkbox', { name: `Crowd ${suffix} 007` }).count()).toBe(0);
      await admin.getByLabel('Find access packages by name').fill(`crowd ${suffix} 00`);
      // Enter in the field finds, with JavaScript or without; so does the Find button.
      await Promise.all([admin.waitForEvent('framenavigated'), admin.getByLabel('Find access packages by name').press('Enter')]);
      await admin.waitForLoadState('load');
      await expectAccessible(admin, 'package page, found packages');
      expect(await admin.textContent('main')).toContain(`9 access packages whose name contains “crowd ${suffix} 00” are listed below.`);
      await admin.getByLabel('Find access packages by name').fill(`crowd ${suffix} 01`);
      await Promise.all([admin.waitForEvent('framenavigated'), admin.getByRole('button', { name: 'Find', exact: true }).click()]);
      await admin.waitForLoadState('load');
      expect(await admin.textContent('main')).toContain(`10 access packages whose name contains “crowd ${suffix} 01” are listed below.`);
      await admin.getByLabel('Find access packages by name').fill(`crowd ${suffix} 00`);
      await Promise.all([admin.waitForEvent('framenavigated'), admin.getByLabel('Find access packages by name').press('Enter')]);
      await admin.waitForLoadState('load');
      await admin.getByRole('checkbox', { name: `Crowd ${suffix} 007` }).check();
      await go(admin, () => admin.getByRole('button', { name: 'Save access package' }).click(), new RegExp(`/admin/access-packages/${PKG.billingSubmit}$`), 'package saved');
      expect(await admin.textContent('main')).toContain('Access package Billing: submit saved.');
      expect(await admin.getByRole('checkbox', { name: `Crowd ${suffix} 007` }).isChecked()).toBe(true);
      await admin.context().close();
    } finally {
      const ids = await db('access_packages').where({ catalog_id: crowded }).pluck('id');
      await db('access_package_incompatibles').whereIn('access_package_id', ids).orWhereIn('incompatible_id', ids).delete();
      await db('access_packages').where({ catalog_id: crowded }).delete();
      await db('catalogs').where({ id: crowded }).delete();
    }
  });
});
