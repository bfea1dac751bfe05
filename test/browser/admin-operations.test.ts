import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { Database } from '../../src/db/connect.ts';
import { exportDirectory } from '../../src/directory/export.ts';
import { signIn } from '../support/app.ts';
import { expectAccessible, htmxSettled, closeSeededBrowser, signInWithBrowser, startSeededBrowser, visit, type BrowserHarness } from '../support/browser.ts';
import { fabrikam, PKG, USER } from '../support/fixtures.ts';
import { clearActivity, policyId, requestId, validWiki } from '../support/flows.ts';

let database: Database;
let h: BrowserHarness;

beforeAll(async () => ({ database, h } = await startSeededBrowser()));
afterAll(() => closeSeededBrowser(h, database));

/** A plain link or form: a full page load with JavaScript on or off; then axe. */
async function go(page: Page, label: string, action: () => Promise<void>) {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), action()]);
  await expectAccessible(page, label);
}

/** An htmx-enhanced link or form: swapped in place with JavaScript, a page load without; then axe. */
async function swap(page: Page, js: boolean, label: string, action: () => Promise<void>) {
  if (!js) return go(page, label, action);
  await action();
  await htmxSettled(page);
  await expectAccessible(page, label);
}

const text = (page: Page) => page.textContent('main');

describe.each([
  { js: true, mode: 'with JavaScript' },
  { js: false, mode: 'without JavaScript' },
])('administrators $mode', ({ js }) => {
  it('assign a user directly, who sees it on their Active tab, then remove it', async () => {
    await clearActivity(database.db);
    h.clock.set('2027-01-15T09:00:00Z');
    const ada = await h.newPage({ javaScript: js });
    await signInWithBrowser(ada, USER.admin);
    await visit(ada, `/admin/access-packages/${PKG.wiki}/assignments`);
    expect(await text(ada)).toContain('Nobody has this access package.');
    await go(ada, 'assign form', () => ada.getByRole('link', { name: 'Assign a user' }).click());
    // Nothing filled in: every problem is listed and linked.
    await go(ada, 'assign form errors', () => ada.getByRole('button', { name: 'Assign', exact: true }).click());
    expect(await ada.getByRole('link', { name: 'Enter the email address of the person to assign' }).count()).toBe(1);
    expect(await ada.getByRole('link', { name: 'Select a policy' }).count()).toBe(1);
    await ada.getByLabel('Email address of the person').fill(USER.requestor);
    await ada.getByLabel('Staff: one day, no approval').check();
    await ada.getByLabel('Reason').fill('Covering the on-call rota.');
    await go(ada, 'assigned', () => ada.getByRole('button', { name: 'Assign', exact: true }).click());
    expect(await text(ada)).toContain('Rita Requestor now has Wiki editors.');
    expect(await ada.getByRole('row', { name: /Rita Requestor.*Delivered/ }).count()).toBe(1);

    const rita = await h.newPage({ javaScript: js });
    await signInWithBrowser(rita, USER.requestor);
    await visit(rita, '/access-packages/active');
    expect(await rita.getByRole('row', { name: /Wiki editors.*Staff: one day, no approval.*Delivered/ }).count()).toBe(1);

    await go(ada, 'remove confirmation', () => ada.getByRole('link', { name: 'Remove Rita Requestor' }).click());
    expect(await text(ada)).toContain('Are you sure you want to remove Rita Requestor from Wiki editors?');
    await go(ada, 'removed', () => ada.getByRole('button', { name: 'Remove access' }).click());
    expect(await text(ada)).toContain('Rita Requestor no longer has Wiki editors.');
    await visit(rita, '/access-packages/active');
    expect(await text(rita)).toContain('You have no active access packages.');
    for (const p of [ada, rita]) await p.context().close();
  });

  it('cancel a request on someone’s behalf, with a reason', async () => {
    await clearActivity(database.db);
    h.clock.set('2027-01-15T09:00:00Z');
    const id = await requestId(await signIn(h.app, USER.requestor), PKG.wiki, await policyId(database.db, PKG.wiki, 'Staff: with approval'), validWiki);
    const ada = await h.newPage({ javaScript: js });
    await signInWithBrowser(ada, USER.admin);
    await visit(ada, '/admin/requests');
    await ada.getByLabel('State').selectOption('pendingApproval');
    await swap(ada, js, 'requests filtered', () => ada.getByRole('button', { name: 'Filter' }).click());
    expect(ada.url()).toContain('state=pendingApproval');
    await go(ada, 'request details', () => ada.getByRole('link', { name: /View the request from Rita Requestor for Wiki editors/ }).click());
    await go(ada, 'cancel form', () => ada.getByRole('link', { name: 'Cancel request' }).click());
    await go(ada, 'cancel form error', () => ada.getByRole('button', { name: 'Cancel request' }).click());
    expect(await ada.getByRole('link', { name: 'Enter the reason for canceling the request' }).count()).toBe(1);
    await ada.getByLabel('Reason for canceling').fill('Wiki editing moved to the new platform.');
    await go(ada, 'canceled', () => ada.getByRole('button', { name: 'Cancel request' }).click());
    expect(await text(ada)).toContain('The request from Rita Requestor for Wiki editors was canceled.');
    expect(await text(ada)).toContain('Canceled by Ada Admin');
    expect((await database.db('requests').where({ id }).first('state')).state).toBe('canceled');
    await ada.context().close();
  });

  it('find a user, see their access and groups, and filter the audit log', async () => {
    const ada = await h.newPage({ javaScript: js });
    await signInWithBrowser(ada, USER.admin);
    await visit(ada, '/admin/users');
    await ada.getByLabel('Name or email').fill('rita');
    await swap(ada, js, 'users found', () => ada.getByRole('button', { name: 'Find' }).click());
    expect(await ada.getByRole('link', { name: 'Otto Other' }).count()).toBe(0);
    await go(ada, 'user page', () => ada.getByRole('link', { name: 'Rita Requestor' }).click());
    expect(await text(ada)).toContain('CC-42');
    await go(ada, 'group page', () => ada.getByRole('link', { name: 'Staff' }).click());
    expect(await ada.getByRole('link', { name: 'Rita Requestor' }).count()).toBe(1);

    await visit(ada, '/admin/audit');
    await ada.getByLabel('Action').fill('drop table');
    await swap(ada, js, 'audit filter error', () => ada.getByRole('button', { name: 'Filter' }).click());
    expect(await ada.getByRole('link', { name: /Action must be an action name/ }).count()).toBe(1);
    await ada.getByLabel('Action').fill('signIn.succeeded');
    await swap(ada, js, 'audit filtered', () => ada.getByRole('button', { name: 'Filter' }).click());
    expect(ada.url()).toContain('action=signIn.succeeded');
    expect(await ada.getByRole('row', { name: /signIn\.succeeded/ }).count()).toBeGreaterThan(0);
    expect(await ada.getByRole('row', { name: /request\./ }).count()).toBe(0);
    await ada.getByText('All details').first().click();
    await expectAccessible(ada, 'audit details open');
    const download = ada.waitForEvent('download');
    await ada.getByRole('link', { name: /Download these entries as CSV/ }).click();
    expect((await download).suggestedFilename()).toMatch(/^audit-fabrikam\.test-\d{4}-\d{2}-\d{2}\.csv$/);
    await ada.context().close();
  });

  it('import a directory file through the plan page', async () => {
    const ada = await h.newPage({ javaScript: js });
    await signInWithBrowser(ada, USER.admin);
    // The directory as it is now (signing in changed Ada's last sign-in), plus one new user.
    const file = (await exportDirectory(database.db, 'fabrikam.test'))!;
    const email = js ? 'jo.javascript@fabrikam.test' : 'nico.nojs@fabrikam.test';
    (file.users ??= []).push({ email, displayName: js ? 'Jo Javascript' : 'Nico Nojs', password: 'a-long-enough-password' });
    await visit(ada, '/admin/import');

    // A broken file first: its problems, with their JSON paths.
    await ada.getByLabel('Contents of the directory file').fill('{"directory": {"hint": "fabrikam.test"}}');
    await swap(ada, js, 'import problems', () => ada.getByRole('button', { name: 'Check the pasted file' }).click());
    expect(await ada.getByRole('link', { name: /The file has \d+ problems?, so nothing was imported/ }).count()).toBe(1);
    expect(await text(ada)).toContain('directory.name');

    if (js) {
      await ada.getByLabel('Directory file', { exact: true }).setInputFiles({ name: 'fabrikam.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(file, null, 2)) });
      await swap(ada, js, 'import plan', () => ada.getByRole('button', { name: 'Check the uploaded file' }).click());
    } else {
      // Without JavaScript the file's contents are pasted (uploads need the parser in app.ts, see import-upload.ts).
      await ada.getByLabel('Contents of the directory file').fill(JSON.stringify(file));
      await swap(ada, js, 'import plan', () => ada.getByRole('button', { name: 'Check the pasted file' }).click());
    }
    expect(await text(ada)).toContain('would make 1 change');
    expect(await ada.getByRole('row', { name: new RegExp(`User Create ${email.replace('.', '\\.')}`) }).count()).toBe(1);
    expect(await database.db('users').where({ email }).count('* as n')).toEqual([{ n: 0 }]);
    await swap(ada, js, 'imported', () => ada.getByRole('button', { name: 'Apply these changes' }).click());
    expect(await text(ada)).toContain('The directory file was imported. Users: 1 created.');
    expect(await database.db('users').where({ email }).count('* as n')).toEqual([{ n: 1 }]);
    await ada.context().close();
  });
});
