import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { Database } from '../../src/db/connect.ts';
import { signIn } from '../support/app.ts';
import { decide } from '../support/flows.ts';
import { expectAccessible, htmxSettled, closeSeededBrowser, signInWithBrowser, startSeededBrowser, visit, type BrowserHarness } from '../support/browser.ts';
import { PKG, USER } from '../support/fixtures.ts';

let database: Database;
let h: BrowserHarness;

beforeAll(async () => ({ database, h } = await startSeededBrowser()));
afterAll(() => closeSeededBrowser(h, database));

async function clearRequests() {
  const db = database.db;
  await db('assignment_grants').delete();
  await db('assignments').delete();
  await db('request_stage_approvers').delete();
  await db('request_stages').delete();
  await db('requests').delete();
}

/** After a click: with JavaScript htmx swaps in place; without, a new page loads. Either way, check it. */
async function settle(page: Page, js: boolean, label: string) {
  if (js) await htmxSettled(page);
  else await page.waitForLoadState('load');
  await expectAccessible(page, label);
}

describe.each([
  { js: true, mode: 'with JavaScript' },
  { js: false, mode: 'without JavaScript' },
])('a requestor $mode', ({ js }) => {
  it('signs in, finds a package, requests it with a specific period, and sees it pending', async () => {
    await clearRequests();
    const page = await h.newPage({ javaScript: js });

    await page.goto('/requests');
    expect(new URL(page.url()).pathname).toBe('/sign-in');
    await page.getByLabel('Email address').fill(USER.requestor);
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.title()).toMatch(/^Error: Sign in/);
    await expectAccessible(page, 'sign-in error');
    await signInWithBrowser(page, USER.requestor);
    expect(new URL(page.url()).pathname).toBe('/');
    await expectAccessible(page, 'overview');

    await page.getByRole('navigation', { name: 'Portico' }).getByRole('link', { name: 'Access packages' }).click();
    await expectAccessible(page, 'access packages');
    await page.getByLabel('Search', { exact: true }).fill('wiki');
    await page.getByRole('button', { name: 'Search' }).click();
    await settle(page, js, 'search results');
    await expect.poll(() => page.getByText('1 access package matches').count()).toBe(1);
    expect(page.url()).toContain('q=wiki');

    await page.getByRole('link', { name: 'Wiki editors', exact: true }).click();
    await settle(page, js, 'package pane');
    await expect.poll(() => page.getByRole('heading', { name: 'Wiki editors' }).count()).toBe(1);
    if (js) {
      // The pane opened beside the list, and focus moved to its heading.
      expect(await page.getByRole('link', { name: 'Repository access' }).count()).toBe(0);
      expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Wiki editors');
      expect(new URL(page.url()).pathname).toBe(`/access-packages/${PKG.wiki}`);
    }

    await page.getByRole('link', { name: 'Request access', exact: true }).click();
    await settle(page, js, 'select a policy');
    await page.getByRole('group', { name: 'Select a policy' }).getByLabel('Staff: with approval').check();
    await page.getByRole('button', { name: 'Continue' }).click();
    await settle(page, js, 'request form');

    await page.getByRole('button', { name: 'Submit' }).click();
    await settle(page, js, 'request form with errors');
    const summary = page.getByRole('alert').filter({ hasText: 'There is a problem' });
    await expect.poll(() => summary.count()).toBe(1);
    expect(await summary.textContent()).toContain('Answer “Which ticket is this for?”');
    if (js) expect(await page.evaluate(() => document.activeElement?.classList.contains('error-summary'))).toBe(true);
    // With or without JavaScript, the title says there is an error (htmx takes it from the fragment).
    expect(await page.title()).toBe('Error: Request access: Wiki editors – Fabrikam – Portico');
    await summary.getByRole('link', { name: 'Enter a business justification' }).click();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('justification');

    await page.getByLabel('Which ticket is this for?').fill('WIKI-9');
    await page.getByRole('group', { name: 'What will you edit?' }).getByLabel('Design docs').check();
    await page.getByLabel('Phone number').fill('555 0100');
    await page.getByLabel('Business justification').fill('Writing the new design docs.');
    await page.getByRole('group', { name: 'Request for specific period?' }).getByLabel('Yes').check();
    if (js) {
      await htmxSettled(page);
      await expectAccessible(page, 'period fields');
    }
    await page.getByLabel('Start date').fill('2027-01-20');
    await page.getByLabel('End date').fill('2027-02-10');
    if (js) {
      // Changing one's mind about the period keeps the dates typed.
      const period = page.getByRole('group', { name: 'Request for specific period?' });
      await period.getByLabel('No').check();
      await htmxSettled(page);
      await expect.poll(() => page.getByLabel('Start date').count()).toBe(0);
      await period.getByLabel('Yes').check();
      await htmxSettled(page);
      await expect.poll(() => page.getByLabel('Start date').count()).toBe(1);
      expect([await page.getByLabel('Start date').inputValue(), await page.getByLabel('End date').inputValue()]).toEqual(['2027-01-20', '2027-02-10']);
    }
    await page.getByRole('button', { name: 'Submit' }).click();
    await settle(page, js, 'confirmation');
    await expect.poll(() => page.getByRole('heading', { name: 'Request submitted' }).count()).toBe(1);
    expect(await page.textContent('main')).toContain('Max Manager must approve it by');
    if (js) {
      // The list beside the confirmation shows the request, not Request access.
      expect(await page.getByRole('link', { name: 'View request for Wiki editors' }).count()).toBe(1);
      expect(await page.getByRole('link', { name: 'Request access to Wiki editors' }).count()).toBe(0);
    }
    // The confirmation has its own address, with JavaScript as without: a reload shows it again.
    await expect.poll(() => new URL(page.url()).pathname).toMatch(/^\/requests\/[0-9a-f-]{36}\/submitted$/);
    if (js) {
      // The page's own live region (the one screen readers listen to since the page loaded) says what happened.
      const status = page.locator('#live-status');
      expect(await status.count()).toBe(1);
      expect(await status.getAttribute('role')).toBe('status');
      expect(await status.getAttribute('aria-live')).toBe('polite');
      expect(await status.textContent()).toBe('Request submitted for Wiki editors');
    }

    await page.getByRole('link', { name: 'Request history' }).first().click();
    await page.waitForURL('**/requests');
    await expectAccessible(page, 'request history');
    expect(await page.getByRole('row', { name: /Wiki editors Pending approval/ }).count()).toBe(1);
    await page.getByRole('link', { name: /View request for Wiki editors/ }).click();
    await settle(page, js, 'request pane');
    expect(await page.textContent('main')).toContain('WIKI-9');
    expect(await page.textContent('main')).toContain('Asked for 20 January 2027 to 10 February 2027');
    expect(await page.textContent('main')).toContain('Submitted by Rita Requestor');

    await page.getByRole('link', { name: 'Cancel request' }).click();
    await settle(page, js, 'cancel confirmation');
    await page.getByRole('button', { name: 'Cancel request' }).click();
    await settle(page, js, 'canceled request');
    await expect.poll(() => page.getByText('Your request for Wiki editors was canceled.').count()).toBe(1);
    expect(await page.textContent('main')).toContain('Canceled by Rita Requestor');
    // The list beside the pane says so too.
    if (js) expect(await page.getByRole('row', { name: /Wiki editors Canceled/ }).count()).toBe(1);
    await page.context().close();
  });

  it('gets access at once from a policy without approval, and sees it under Active', async () => {
    await clearRequests();
    const page = await h.newPage({ javaScript: js });
    await signInWithBrowser(page, USER.requestor);
    await visit(page, '/access-packages');
    await page.getByRole('link', { name: 'Request access to Repository access' }).click();
    await settle(page, js, 'repository form');
    await page.getByRole('button', { name: 'Submit' }).click();
    await settle(page, js, 'delivered confirmation');
    await expect.poll(() => page.getByText('you now have access to Repository access until 15 April 2027').count()).toBe(1);
    if (js) expect(await page.getByRole('row', { name: /^Repository access .*You have access$/ }).count()).toBe(1);
    await visit(page, '/access-packages/active');
    expect(await page.getByRole('row', { name: /Repository access Members Delivered 15 January 2027 15 April 2027/ }).count()).toBe(1);
    await visit(page, '/access-packages/expired');
    expect(await page.textContent('main')).toContain('None of your access has ended yet.');
    await page.context().close();
  });

  it('resubmits a denied request from its pane, with the earlier answers', async () => {
    await clearRequests();
    const page = await h.newPage({ javaScript: js });
    await signInWithBrowser(page, USER.requestor);
    await visit(page, `/access-packages/${PKG.wiki}/request`);
    await page.getByLabel('Staff: with approval').check();
    await page.getByRole('button', { name: 'Continue' }).click();
    await settle(page, js, 'approval form');
    await page.getByLabel('Which ticket is this for?').fill('WIKI-31');
    await page.getByRole('group', { name: 'What will you edit?' }).getByLabel('Runbooks').check();
    await page.getByLabel('Business justification').fill('Quick fix to a runbook.');
    await page.getByRole('button', { name: 'Submit' }).click();
    await settle(page, js, 'submitted');
    const [{ id }] = await database.db('requests').select('id');
    expect((await decide(await signIn(h.app, USER.manager), id, 'deny', 'Not this quarter.')).status).toBe(303);
    await visit(page, '/requests');
    await page.getByRole('link', { name: /View request for Wiki editors/ }).click();
    await settle(page, js, 'denied request');
    await page.getByRole('link', { name: 'Resubmit' }).click();
    await settle(page, js, 'resubmit form');
    expect(await page.getByLabel('Business justification').inputValue()).toBe('Quick fix to a runbook.');
    expect(await page.getByLabel('Which ticket is this for?').inputValue()).toBe('WIKI-31');
    await page.getByRole('button', { name: 'Submit' }).click();
    await settle(page, js, 'resubmitted');
    expect(await database.db('requests').whereNotNull('resubmits_request_id').count('* as n')).toEqual([{ n: 1 }]);
    await page.context().close();
  });

  it('shows, after Back, the search the results are for', async () => {
    const page = await h.newPage({ javaScript: js });
    await signInWithBrowser(page, USER.requestor);
    await visit(page, '/access-packages');
    for (const [q, field] of [['wiki', 'Name'], ['repository', 'Resources']] as const) {
      await page.getByLabel('Search', { exact: true }).fill(q);
      await page.getByLabel('Search in').selectOption({ label: field });
      await Promise.all([js ? htmxSettled(page) : page.waitForURL(new RegExp(`q=${q}`)), page.getByRole('button', { name: 'Search' }).click()]);
      await expect.poll(() => new URL(page.url()).searchParams.get('q')).toBe(q);
    }
    await page.goBack();
    await expect.poll(() => new URL(page.url()).searchParams.get('q')).toBe('wiki');
    await expect.poll(() => page.getByRole('link', { name: 'Wiki editors', exact: true }).count()).toBe(1);
    expect(await page.getByLabel('Search', { exact: true }).inputValue()).toBe('wiki');
    expect(await page.getByLabel('Search in').evaluate((el) => (el as HTMLSelectElement).selectedOptions[0].textContent)).toBe('Name');
    await page.context().close();
  });

  it('shows clear pages for what does not exist or is unavailable, and signs out', async () => {
    const page = await h.newPage({ javaScript: js });
    await signInWithBrowser(page, USER.guest);
    await visit(page, '/no-such-page');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Page not found');
    await visit(page, `/access-packages/${PKG.wiki}`);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('This access package is unavailable');
    await visit(page, '/access-packages?q=nothing-matches-this');
    expect(await page.textContent('main')).toContain('No access packages you can request match “nothing-matches-this”.');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL('**/sign-in?signedOut=1');
    await page.goto('/');
    expect(new URL(page.url()).pathname).toBe('/sign-in');
    await page.context().close();
  });
});

describe('layout', () => {
  it('reflows at 400% zoom (320 CSS pixels wide) without sideways scrolling', async () => {
    await clearRequests();
    await database.db('requests').insert({
      directory_id: (await database.db('directories').first('id')).id,
      access_package_id: PKG.repo,
      policy_id: (await database.db('policies').where({ access_package_id: PKG.repo }).first('id')).id,
      target_user_id: (await database.db('users').where({ email: USER.requestor }).first('id')).id,
      requested_by_id: (await database.db('users').where({ email: USER.requestor }).first('id')).id,
      type: 'userAdd', state: 'denied', submitted_at: h.clock.now(), updated_at: h.clock.now(),
    });
    const page = await h.newPage();
    await page.setViewportSize({ width: 320, height: 640 });
    await signInWithBrowser(page, USER.requestor);
    for (const url of ['/', '/access-packages', `/access-packages/${PKG.wiki}`, `/access-packages/${PKG.wiki}/request`, '/requests']) {
      await visit(page, url);
      const tooWide = await page.evaluate(() => {
        const width = document.documentElement.clientWidth;
        return [...document.querySelectorAll('body *')]
          .filter((e) => e.getBoundingClientRect().right > width + 1 && !e.closest('.table-wrap'))
          .map((e) => `${e.tagName.toLowerCase()}.${e.className} ends at ${Math.round(e.getBoundingClientRect().right)}px`);
      });
      expect(tooWide, url).toEqual([]);
      expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth), url).toBeLessThanOrEqual(0);
    }
  });

  it('keeps a keyboard user in the list when Next page and Previous page swap it', async () => {
    await clearRequests();
    const db = database.db;
    const rita = await db('users').where({ email: USER.requestor }).first('id', 'directory_id');
    const policy = await db('policies').where({ access_package_id: PKG.wiki }).first('id');
    await db('requests').insert(Array.from({ length: 25 }, (_, i) => ({
      directory_id: rita.directory_id, access_package_id: PKG.wiki, policy_id: policy.id, target_user_id: rita.id, requested_by_id: rita.id,
      type: 'userAdd', state: 'canceled', justification: `Request ${i + 1}`, submitted_at: new Date(Date.UTC(2027, 0, 1, 9, i)), completed_at: new Date(Date.UTC(2027, 0, 2)), updated_at: new Date(Date.UTC(2027, 0, 2)),
    })));
    const page = await h.newPage();
    await signInWithBrowser(page, USER.requestor);
    await visit(page, '/requests');
    const where = () => page.evaluate(() => ({ tag: document.activeElement?.tagName, inList: Boolean(document.activeElement?.closest('main')) }));
    await page.getByRole('link', { name: 'Next page' }).focus();
    await page.keyboard.press('Enter');
    await htmxSettled(page);
    await page.waitForURL('**/requests?after=*');
    expect(await where()).toMatchObject({ inList: true });
    expect((await where()).tag).not.toBe('BODY');
    await expectAccessible(page, 'second page of requests');
    await page.getByRole('link', { name: 'Previous page' }).focus();
    await page.keyboard.press('Enter');
    await htmxSettled(page);
    expect(await where()).toMatchObject({ inList: true });
    await clearRequests();
  });

  it('lets a keyboard user skip to the main content, with a visible focus', async () => {
    const page = await h.newPage();
    await signInWithBrowser(page, USER.requestor);
    await page.keyboard.press('Tab');
    const skip = await page.evaluate(() => ({ text: document.activeElement?.textContent, outline: getComputedStyle(document.activeElement!).backgroundColor }));
    expect(skip.text).toBe('Skip to main content');
    expect(skip.outline).toBe('rgb(255, 191, 71)');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
  });
});
