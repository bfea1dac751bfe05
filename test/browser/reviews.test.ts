import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { Database } from '../../src/db/connect.ts';
import { createTestDatabase } from '../support/db.ts';
import { signIn } from '../support/app.ts';
import { expectAccessible, htmxSettled, signInWithBrowser, startBrowserHarness, visit, type BrowserHarness } from '../support/browser.ts';
import { PKG, USER } from '../support/fixtures.ts';
import { decide, policyId, requestId } from '../support/flows.ts';
import { instanceOf, isMember, liveAssignment, managerReview, resetReviews, REVIEW, selfReview, specificReview, sweeper } from '../support/reviews.ts';

let database: Database;
let h: BrowserHarness;
let sweep: () => Promise<unknown>;

beforeAll(async () => {
  database = await createTestDatabase();
  h = await startBrowserHarness(database);
  sweep = sweeper(database.db, h.services, h.clock);
});
afterAll(async () => {
  await h?.close();
  await database?.close();
});

/** After a click: with JavaScript htmx swaps in place; without, a new page loads. Either way, check it with axe. */
async function settle(page: Page, js: boolean, label: string) {
  if (js) await htmxSettled(page);
  else await page.waitForLoadState('load');
  await expectAccessible(page, label);
}

const main = (page: Page) => page.locator('main').innerText();

/** Waits for a message; when it does not come, says what the page shows instead. */
async function shows(page: Page, text: string) {
  try {
    await page.getByText(text).waitFor();
  } catch (err) {
    console.log(`Not found: "${text}" on ${page.url()}; the page shows:\n${await page.locator('main').innerText()}`);
    throw err;
  }
}

/** The number on an Overview card, or null when the card is not there. */
async function cardCount(page: Page, title: string): Promise<number | null> {
  await visit(page, '/');
  const card = page.locator('section.card', { has: page.getByRole('heading', { name: title, exact: true }) });
  if ((await card.count()) === 0) return null;
  return Number(await card.locator('.card__count').innerText());
}

describe.each([
  { js: true, mode: 'with JavaScript' },
  { js: false, mode: 'without JavaScript' },
])('access reviews $mode', ({ js }) => {
  it('a person answers a self-review: Do you still need access?', async () => {
    h.clock.set('2027-01-15T09:00:00Z');
    await resetReviews(database, h.clock, [selfReview()]);
    await sweep();
    const page = await h.newPage({ javaScript: js });
    await signInWithBrowser(page, USER.requestor);
    await visit(page, '/access-reviews');
    expect(await page.getByRole('row', { name: /Review your access.*Wiki editors: self-review.*29 January 2027.*0 of 1 reviewed/ }).count()).toBe(1);
    await page.getByRole('link', { name: 'Review your access' }).click();
    await settle(page, false, 'self-review');
    await expect.poll(() => page.getByRole('heading', { level: 1 }).innerText()).toBe('Review your access');
    const question = page.getByRole('group', { name: 'Do you still need access to Wiki editors?' });
    expect(await question.count()).toBe(1);

    // No answer and no reason: both are asked for, with an error summary.
    await page.getByRole('button', { name: 'Submit' }).click();
    await page.getByRole('link', { name: 'Choose Yes or No' }).waitFor();
    await settle(page, js, 'self-review errors');
    expect(await page.getByRole('link', { name: 'Enter a reason for your answer' }).count()).toBe(1);

    await question.getByLabel('Yes').check();
    await page.getByLabel(/Reason/).fill('I maintain the on-call runbooks.');
    await page.getByRole('button', { name: 'Submit' }).click();
    await shows(page, 'Thank you. You told us you still need access to Wiki editors.');
    await settle(page, js, 'self-review answered');
    expect(await page.getByRole('group', { name: 'Do you still need access to Wiki editors?' }).getByLabel('Yes').isChecked()).toBe(true);

    // The answer can be changed until the end.
    await page.getByRole('group', { name: 'Do you still need access to Wiki editors?' }).getByLabel('No').check();
    await page.getByRole('button', { name: 'Submit' }).click();
    await shows(page, 'Thank you. You told us you no longer need access to Wiki editors.');
    await settle(page, js, 'self-review changed');
    const instance = await instanceOf(database.db, REVIEW.self);
    expect(await database.db('access_review_decisions as d').join('access_review_items as i', 'i.id', 'd.item_id').where('i.instance_id', instance.id).orderBy('d.id').pluck('d.decision')).toEqual(['approve', 'deny']);
    await page.context().close();
  });

  it('a manager reviews their reports, one in the pane, then accepts the recommendations for the rest', async () => {
    h.clock.set('2027-01-15T09:00:00Z');
    await resetReviews(database, h.clock, [managerReview()]);
    await sweep();
    const page = await h.newPage({ javaScript: js });
    await signInWithBrowser(page, USER.manager);
    await visit(page, '/access-reviews');
    await page.getByRole('link', { name: 'Staff membership' }).click();
    await settle(page, false, 'manager review');
    const table = page.getByRole('table', { name: 'People to review' });
    expect(await table.getByRole('row', { name: /Otto Other.*Recommended: Deny \(no sign-in for 30 days\).*Not reviewed/ }).count()).toBe(1);
    expect(await table.getByRole('row', { name: /Rita Requestor.*Recommended: Approve/ }).count()).toBe(1);
    expect(await page.getByText('Nina Nomanager').count()).toBe(0);
    if (js) {
      // At 400 % zoom the table scrolls in its box: the box can then be focused and scrolled from the keyboard.
      await page.setViewportSize({ width: 320, height: 640 });
      const wrap = page.locator('.table-wrap', { has: table });
      await expect.poll(() => wrap.getAttribute('tabindex')).toBe('0');
      expect(await wrap.evaluate((el) => el.scrollWidth > el.clientWidth)).toBe(true);
      expect(await page.getByRole('region', { name: 'People to review' }).count()).toBe(1);
      await expectAccessible(page, 'manager review at 320 px');
      await wrap.focus();
      await page.keyboard.press('ArrowRight');
      await expect.poll(() => wrap.evaluate((el) => el.scrollLeft)).toBeGreaterThan(0);
      await page.setViewportSize({ width: 1280, height: 900 });
      await expect.poll(() => wrap.getAttribute('tabindex')).toBeNull();
    }

    await page.getByRole('link', { name: /Review Lia Lead’s access to Staff/ }).click();
    await page.getByRole('heading', { level: 2, name: 'Lia Lead' }).waitFor();
    await settle(page, js, 'item pane');
    await page.getByLabel(/Reason/).fill('Moved to the Sales team.');
    await page.getByRole('button', { name: 'Deny', exact: true }).click();
    await shows(page, 'You denied Lia Lead’s access to Staff.');
    await settle(page, js, 'item denied');
    if (js) {
      // The row and the progress changed in place.
      expect(await page.getByRole('row', { name: /Lia Lead.*Denied/ }).count()).toBe(1);
      expect(await page.locator('#review-progress').innerText()).toBe('1 of 3 people reviewed');
    } else {
      await page.getByRole('link', { name: 'Back to Staff membership' }).click();
      await settle(page, false, 'back to the review');
    }

    await page.getByRole('button', { name: 'Accept recommendations' }).click();
    await shows(page, 'You accepted 2 recommendations.');
    await settle(page, js, 'recommendations accepted');
    expect(await page.getByRole('row', { name: /Otto Other.*Denied/ }).count()).toBe(1);
    expect(await page.getByRole('row', { name: /Rita Requestor.*Approved/ }).count()).toBe(1);
    expect(await page.getByRole('row', { name: /Lia Lead.*Denied/ }).count()).toBe(1);
    expect(await page.locator('#review-progress').innerText()).toContain('3 of 3 people reviewed');
    expect(await page.getByRole('button', { name: 'Accept recommendations' }).count()).toBe(0);
    await page.context().close();
  });

  it('a specific reviewer denies access; at the end the review applies itself and the access is gone from the person’s Active tab', async () => {
    h.clock.set('2027-01-15T09:00:00Z');
    await resetReviews(database, h.clock, [specificReview()]);
    await sweep();
    const ada = await h.newPage({ javaScript: js });
    await signInWithBrowser(ada, USER.admin);
    await visit(ada, '/access-reviews');
    await ada.getByRole('link', { name: 'Source Repository holders' }).click();
    await settle(ada, false, 'specific review');
    await ada.getByRole('link', { name: /Review Otto Other’s access to Source Repository: Member/ }).click();
    await ada.getByRole('heading', { level: 2, name: 'Otto Other' }).waitFor();
    await settle(ada, js, 'Otto in the pane');
    expect(await main(ada)).toContain('Recommended: Deny (no sign-in for 30 days)');
    // The review requires a reason.
    await ada.getByRole('button', { name: 'Deny', exact: true }).click();
    await ada.getByRole('link', { name: 'Enter a reason for your decision' }).waitFor();
    await settle(ada, js, 'reason required');
    await ada.getByLabel(/Reason/).fill('Left the project in December.');
    await ada.getByRole('button', { name: 'Deny', exact: true }).click();
    await shows(ada, 'You denied Otto Other’s access to Source Repository: Member.');
    await settle(ada, js, 'Otto denied');

    const otto = await h.newPage({ javaScript: js });
    await signInWithBrowser(otto, USER.other);
    await visit(otto, '/access-packages/active');
    expect(await otto.getByRole('row', { name: /Repository access/ }).count()).toBe(1);

    h.clock.set('2027-01-29T09:00:00Z');
    await sweep();
    expect((await liveAssignment(database.db, USER.other, PKG.repo))?.state).toBe('expired');
    await visit(otto, '/access-packages/active');
    expect(await otto.getByRole('row', { name: /Repository access/ }).count()).toBe(0);
    expect(await otto.getByRole('row', { name: /Wiki editors/ }).count()).toBe(1);
    await visit(otto, '/access-packages/expired');
    expect(await otto.getByRole('row', { name: /Repository access.*Access expired.*Removed in access review/ }).count()).toBe(1);

    await visit(ada, '/access-reviews/ended');
    expect(await ada.getByRole('row', { name: /Source Repository holders.*1 of 4 reviewed.*Applied/ }).count()).toBe(1);
    await ada.getByRole('link', { name: 'Source Repository holders', exact: true }).click();
    await settle(ada, false, 'ended review');
    expect(await ada.getByRole('row', { name: /Otto Other.*Denied.*Access removed/ }).count()).toBe(1);
    const [download] = await Promise.all([ada.waitForEvent('download'), ada.getByRole('link', { name: 'Download results (CSV)' }).click()]);
    expect(download.suggestedFilename()).toBe('source-repository-holders-2027-01-15.csv');
    for (const p of [ada, otto]) await p.context().close();
  });

  it('the Overview shows what needs the person, and the counts move as the work is done', async () => {
    h.clock.set('2027-01-15T09:00:00Z');
    await resetReviews(database, h.clock, [managerReview()]);
    await sweep();
    const ottoAgent = await signIn(h.app, USER.other);
    const request = await requestId(ottoAgent, PKG.twoStage, await policyId(database.db, PKG.twoStage, 'Two stages'), { justification: 'INC-4' });

    const page = await h.newPage({ javaScript: js });
    await signInWithBrowser(page, USER.manager);
    expect(new URL(page.url()).pathname).toBe('/');
    await expectAccessible(page, 'overview');
    expect(await cardCount(page, 'Approvals')).toBe(1);
    expect(await cardCount(page, 'Access reviews')).toBe(1);
    expect(await page.getByText('access review to complete, with 3 decisions to make.').count()).toBe(1);

    await page.getByRole('link', { name: 'Go to Access reviews' }).click();
    await settle(page, false, 'reviews from the overview');
    await page.getByRole('link', { name: 'Staff membership' }).click();
    await settle(page, false, 'the review');
    await page.getByRole('link', { name: /Review Rita Requestor’s access to Staff/ }).click();
    await page.getByRole('heading', { level: 2, name: 'Rita Requestor' }).waitFor();
    await settle(page, js, 'Rita in the pane');
    await page.getByRole('button', { name: 'Approve', exact: true }).click();
    await shows(page, 'You approved Rita Requestor’s access to Staff.');
    await settle(page, js, 'Rita approved');
    await visit(page, '/');
    expect(await page.getByText('access review to complete, with 2 decisions to make.').count()).toBe(1);

    const maxAgent = await signIn(h.app, USER.manager);
    expect((await decide(maxAgent, request, 'approve', 'On call.')).status).toBe(303);
    expect(await cardCount(page, 'Approvals')).toBeNull();

    await visit(page, `/access-reviews/${(await instanceOf(database.db, REVIEW.manager)).id}`);
    await page.getByRole('button', { name: 'Accept recommendations' }).click();
    await shows(page, 'You accepted 2 recommendations.');
    await settle(page, js, 'accepted from the review');
    await visit(page, '/');
    expect(await page.getByText('You have nothing to do right now.').count()).toBe(1);
    expect(await isMember(database.db, USER.requestor, 'staff')).toBe(true);
    await page.context().close();
  });
});
