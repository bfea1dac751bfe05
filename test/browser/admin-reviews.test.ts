import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { Database } from '../../src/db/connect.ts';
import { expectAccessible, closeSeededBrowser, signInWithBrowser, startSeededBrowser, type BrowserHarness } from '../support/browser.ts';
import { USER } from '../support/fixtures.ts';
import { reviewFixture } from '../support/reviews.ts';

let database: Database;
let h: BrowserHarness;

  // The fixture's assignments give the reviews people to review.
beforeAll(async () => ({ database, h } = await startSeededBrowser(reviewFixture([]))));
afterAll(() => closeSeededBrowser(h, database));

/** Follows a link or submits a form that loads another page (with or without JavaScript: these forms are plain). */
async function go(page: Page, click: () => Promise<void>, url: RegExp, label: string) {
  await Promise.all([page.waitForURL(url), click()]);
  await page.waitForLoadState('load');
  await expectAccessible(page, label);
}

/** Submits a form that the server refuses (422 or 409): the same address answers with the form and its messages. */
async function refused(page: Page, click: () => Promise<void>, status: number, label: string) {
  const [response] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), click()]);
  expect(response.status(), label).toBe(status);
  await page.waitForLoadState('load');
  await expectAccessible(page, label);
}

const main = (page: Page) => page.textContent('main');

describe.each([
  // Each run removes the access it reviews, so each reviews another package: Rita and Otto edit the wiki; Otto, Nina and Lia use the repository.
  { js: true, mode: 'with JavaScript', suffix: 'A', pkg: 'Wiki editors', people: 2 },
  { js: false, mode: 'without JavaScript', suffix: 'B', pkg: 'Repository access', people: 3 },
])('an administrator $mode', ({ js, suffix, pkg, people }) => {
  it('creates a review, fixes its errors, starts, stops and applies it, downloads the results and removes it', async () => {
    const admin = await h.newPage({ javaScript: js });
    await signInWithBrowser(admin, USER.admin);
    await go(admin, () => admin.getByRole('link', { name: 'Administration' }).click(), /\/admin$/, 'administration');
    await go(admin, () => admin.getByRole('navigation', { name: 'Administration' }).getByRole('link', { name: 'Access reviews' }).click(), /\/admin\/access-reviews$/, 'access reviews');
    await go(admin, () => admin.getByRole('link', { name: 'Create an access review' }).click(), /\/admin\/access-reviews\/new$/, 'new review');

    // Nothing chosen, no name, a duration the import refuses: every message in the summary and at its field.
    await admin.getByLabel('Duration in days').fill('0');
    await refused(admin, () => admin.getByRole('button', { name: 'Create access review' }).click(), 422, 'new review errors');
    const summary = admin.locator('.error-summary');
    expect(await summary.getByRole('link').allTextContents()).toEqual(['Name: must not be empty', 'What to review: choose an access package, group or resource', 'Duration in days: must be at least 1']);
    expect(await admin.locator('#durationDays-error').textContent()).toContain('Duration in days: must be at least 1');
    expect(await admin.getByLabel('Duration in days').getAttribute('aria-invalid')).toBe('true');
    await summary.getByRole('link', { name: 'Name: must not be empty' }).click();
    await expect.poll(() => admin.evaluate(() => document.activeElement?.id)).toBe('name');

    await admin.getByLabel('Name', { exact: true }).fill(`Wiki check ${suffix}`);
    await admin.getByLabel('Description').fill('Do you still edit the wiki?');
    await admin.getByLabel('What to review').selectOption({ label: pkg });
    await admin.getByRole('radio', { name: 'Specific people' }).check();
    await admin.getByRole('textbox', { name: 'Specific reviewers' }).fill(`${USER.lead}\n${USER.approver}`);
    await admin.getByLabel('Start date').fill('2027-02-01');
    await admin.getByLabel('Duration in days').fill('7');
    await admin.getByRole('radio', { name: 'Monthly' }).check();
    await admin.getByRole('radio', { name: 'Remove access' }).check();
    await go(admin, () => admin.getByRole('button', { name: 'Create access review' }).click(), /\/admin\/access-reviews\/[0-9a-f-]{36}$/, 'review page');
    const reviewUrl = admin.url();
    expect(await main(admin)).toContain(`Access review Wiki check ${suffix} created.`);
    expect(await main(admin)).toContain('This review has not started yet.');

    // The editor refuses a duration in words with the import's message, keeping what was typed.
    await admin.getByLabel('Duration in days').fill('a week');
    await refused(admin, () => admin.getByRole('button', { name: 'Save access review' }).click(), 422, 'review page errors');
    expect(await admin.locator('.error-summary').getByRole('link').allTextContents()).toEqual(['Duration in days: must be a number']);
    expect(await admin.getByLabel('Duration in days').inputValue()).toBe('a week');
    await admin.getByLabel('Duration in days').fill('10');
    await go(admin, () => admin.getByRole('button', { name: 'Save access review' }).click(), new RegExp(`${reviewUrl}$`), 'review saved');
    expect(await main(admin)).toContain(`Access review Wiki check ${suffix} saved.`);

    // Start now: reviewers are asked at once.
    await go(admin, () => admin.getByRole('button', { name: 'Start now' }).click(), new RegExp(`${reviewUrl}$`), 'review started');
    expect(await main(admin)).toContain(`The review started: ${people} people’s access to review.`);
    expect(await admin.getByRole('row', { name: new RegExp(`Active.*0 of ${people} decided`) }).count()).toBe(1);

    // Stop, confirmed; a second tab that still shows the confirmation is told it has already ended (409).
    await go(admin, () => admin.getByRole('link', { name: /^Stop the instance started/ }).click(), /\/stop$/, 'stop confirmation');
    const stale = await admin.context().newPage();
    await stale.goto(admin.url());
    await go(admin, () => admin.getByRole('button', { name: 'Stop review' }).click(), new RegExp(`${reviewUrl}$`), 'review stopped');
    expect(await main(admin)).toContain('The review was stopped.');
    await refused(stale, () => stale.getByRole('button', { name: 'Stop review' }).click(), 409, 'stop refused');
    expect(await stale.getByRole('alert').textContent()).toContain('This review has already ended');
    await stale.close();

    // Apply, confirmed: nobody decided and undecided access is removed.
    await go(admin, () => admin.getByRole('link', { name: /^Apply results of the instance started/ }).click(), /\/apply$/, 'apply confirmation');
    expect(await main(admin)).toContain(`${people} people will lose access now and be told by email; 0 people keep it.`);
    await go(admin, () => admin.getByRole('button', { name: 'Apply results' }).click(), new RegExp(`${reviewUrl}$`), 'results applied');
    expect(await main(admin)).toContain(`The results were applied: ${people} people lost access, 0 people kept it.`);
    expect(await admin.getByRole('row', { name: new RegExp(`Results applied.*Removed ${people}, kept 0`) }).count()).toBe(1);

    // The results as a file.
    const [download] = await Promise.all([admin.waitForEvent('download'), admin.getByRole('link', { name: /^Download results of the instance started .* \(CSV\)$/ }).click()]);
    expect(download.suggestedFilename()).toBe(`wiki-check-${suffix.toLowerCase()}-2027-01-15.csv`);

    // Remove, confirmed.
    await go(admin, () => admin.getByRole('link', { name: 'Remove this access review' }).click(), /\/remove$/, 'remove confirmation');
    await go(admin, () => admin.getByRole('button', { name: 'Remove access review' }).click(), /\/admin\/access-reviews$/, 'review removed');
    expect(await main(admin)).toContain(`Access review Wiki check ${suffix} removed.`);
    expect(await admin.getByRole('link', { name: `Wiki check ${suffix}` }).count()).toBe(0);
    await admin.context().close();
  });
});

describe('a catalog owner', () => {
  it('reviews the packages and resources of his catalogs only', async () => {
    const max = await h.newPage({ javaScript: true });
    await signInWithBrowser(max, USER.manager);
    await max.goto('/admin/access-reviews');
    await expectAccessible(max, 'owner: access reviews');
    await go(max, () => max.getByRole('link', { name: 'Create an access review' }).click(), /\/new$/, 'owner: new review');
    const groups = await max.getByLabel('What to review').locator('optgroup').evaluateAll((els) => els.map((e) => e.getAttribute('label')));
    expect(groups).toEqual(['Access packages in General', 'Resources in General']);
    await max.getByLabel('Name', { exact: true }).fill('Repository holders');
    await max.getByLabel('What to review').selectOption({ label: 'Source Repository' });
    await max.getByRole('radio', { name: 'Each person reviews their own access' }).check();
    await go(max, () => max.getByRole('button', { name: 'Create access review' }).click(), /\/admin\/access-reviews\/[0-9a-f-]{36}$/, 'owner: review page');
    expect(await main(max)).toContain('People with roles in Source Repository');
    await max.context().close();
  });
});
