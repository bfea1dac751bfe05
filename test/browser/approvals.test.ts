import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { Database } from '../../src/db/connect.ts';
import { sweepAndQueueEmails } from '../../src/lifecycle/sweep.ts';
import { createLogger } from '../../src/log.ts';
import { signIn } from '../support/app.ts';
import { expectAccessible, htmxSettled, closeSeededBrowser, signInWithBrowser, startSeededBrowser, visit, type BrowserHarness } from '../support/browser.ts';
import { PKG, USER } from '../support/fixtures.ts';
import { clearActivity, policyId, requestId, validWiki } from '../support/flows.ts';

let database: Database;
let h: BrowserHarness;

beforeAll(async () => ({ database, h } = await startSeededBrowser()));
afterAll(() => closeSeededBrowser(h, database));

const sweep = () => sweepAndQueueEmails({ db: database.db, notifier: h.services.notifier, logger: createLogger('silent') }, h.clock.now());
const stateOf = async (id: string) => (await database.db('requests').where({ id }).first('state')).state as string;

async function settle(page: Page, js: boolean, label: string) {
  if (js) await htmxSettled(page);
  else await page.waitForLoadState('load');
  await expectAccessible(page, label);
}

/** An approver opens the request from the Pending tab and decides it. */
async function decideInBrowser(page: Page, js: boolean, requestor: string, decision: 'Approve' | 'Deny', justification: string) {
  await visit(page, '/approvals');
  await page.getByRole('link', { name: new RegExp(`Review the request from ${requestor}`) }).click();
  await settle(page, js, 'approval pane');
  await page.getByLabel(/Justification/).fill(justification);
  await page.getByRole('button', { name: decision, exact: true }).click();
  await settle(page, js, 'decided');
  const verb = decision === 'Approve' ? 'approved' : 'denied';
  await expect.poll(() => page.getByText(new RegExp(`You ${verb} the request from ${requestor}`)).count()).toBe(1);
  if (js) {
    // The row left the Pending list in place.
    expect(await page.getByRole('link', { name: new RegExp(`Review the request from ${requestor}`) }).count()).toBe(0);
  }
}

describe.each([
  { js: true, mode: 'with JavaScript' },
  { js: false, mode: 'without JavaScript' },
])('approvers $mode', ({ js }) => {
  it('take a request through two stages to Delivered', async () => {
    await clearActivity(database.db);
    h.clock.set('2027-01-15T09:00:00Z');
    const otto = await signIn(h.app, USER.other);
    const id = await requestId(otto, PKG.twoStage, await policyId(database.db, PKG.twoStage, 'Two stages'), { justification: 'Incident INC-7.' });

    const max = await h.newPage({ javaScript: js });
    await signInWithBrowser(max, USER.manager);
    await visit(max, '/approvals');
    await max.getByRole('link', { name: /Review the request from Otto Other/ }).click();
    await settle(max, js, 'approval pane');
    expect(await max.textContent('main')).toContain('Incident INC-7.');
    // The stage requires a justification: an empty one is refused with an error summary.
    await max.getByRole('button', { name: 'Approve', exact: true }).click();
    await settle(max, js, 'decision error');
    await expect.poll(() => max.getByRole('link', { name: 'Enter a justification for your decision' }).count()).toBe(1);
    await max.getByLabel(/Justification/).fill('On call this week.');
    await max.getByRole('button', { name: 'Approve', exact: true }).click();
    await settle(max, js, 'stage 1 approved');
    await expect.poll(() => max.getByText('You approved the request from Otto Other for Production console.').count()).toBe(1);
    expect(await stateOf(id)).toBe('pendingApproval');
    if (js) {
      // The list beside the pane lost its last row, and says so.
      await expect.poll(() => max.getByText('No requests are waiting for your approval.').count()).toBe(1);
      expect(await max.getByRole('table', { name: 'Requests waiting for your approval' }).count()).toBe(0);
    }

    const apu = await h.newPage({ javaScript: js });
    await signInWithBrowser(apu, USER.approver);
    await visit(apu, '/approvals');
    expect(await apu.textContent('main')).toContain('Stage 2 of 2');
    await decideInBrowser(apu, js, 'Otto Other', 'Approve', 'Looks right.');
    expect(await stateOf(id)).toBe('delivered');
    await visit(apu, '/approvals/history');
    expect(await apu.getByRole('row', { name: /^Otto Other ?: Production console, decided .* UTC Production console Approved/ }).count()).toBe(1);

    const requestor = await h.newPage({ javaScript: js });
    await signInWithBrowser(requestor, USER.other);
    await visit(requestor, `/requests/${id}`);
    const text = await requestor.textContent('main');
    expect(text).toContain('Stage 1 approved by Max Manager');
    expect(text).toContain('On call this week.');
    expect(text).toContain('Stage 2 approved by Apu Approver');
    for (const p of [max, apu, requestor]) await p.context().close();
  });

  it('deny a request, and the requestor resubmits it', async () => {
    await clearActivity(database.db);
    h.clock.set('2027-01-15T09:00:00Z');
    const rita = await signIn(h.app, USER.requestor);
    const id = await requestId(rita, PKG.wiki, await policyId(database.db, PKG.wiki, 'Staff: with approval'), validWiki);
    const max = await h.newPage({ javaScript: js });
    await signInWithBrowser(max, USER.manager);
    await decideInBrowser(max, js, 'Rita Requestor', 'Deny', 'Ask for read access instead.');
    expect(await stateOf(id)).toBe('denied');

    const page = await h.newPage({ javaScript: js });
    await signInWithBrowser(page, USER.requestor);
    await visit(page, `/requests/${id}`);
    expect(await page.textContent('main')).toContain('Ask for read access instead.');
    await page.getByRole('link', { name: 'Resubmit' }).click();
    await settle(page, js, 'resubmit form');
    expect(await page.getByLabel('Which ticket is this for?').inputValue()).toBe('WIKI-7');
    await page.getByLabel('Business justification').fill('Read access is not enough: I edit runbooks.');
    await page.getByRole('button', { name: 'Submit' }).click();
    await settle(page, js, 'resubmitted');
    expect(await database.db('requests').where({ resubmits_request_id: id }).first('state')).toEqual({ state: 'pendingApproval' });
    await max.context().close();
    await page.context().close();
  });

  it('see a request expire when nobody decides, and forwarded requests after escalation', async () => {
    await clearActivity(database.db);
    h.clock.set('2027-01-15T09:00:00Z');
    const otto = await signIn(h.app, USER.other);
    const rita = await signIn(h.app, USER.requestor);
    const expiring = await requestId(rita, PKG.wiki, await policyId(database.db, PKG.wiki, 'Staff: with approval'), validWiki);
    const escalating = await requestId(otto, PKG.twoStage, await policyId(database.db, PKG.twoStage, 'Two stages'), { justification: 'INC-9' });
    const maxAgent = await signIn(h.app, USER.manager);
    const pane = await maxAgent.get(`/approvals/${escalating}`);
    await maxAgent.post(`/approvals/${escalating}`).type('form').send({ _csrf: /name="_csrf" value="([^"]+)"/.exec(pane.text)![1], stage: '1', decision: 'approve', justification: 'ok' });

    h.clock.advance({ days: 4 });
    await sweep();
    const ada = await h.newPage({ javaScript: js });
    await signInWithBrowser(ada, USER.admin);
    await visit(ada, '/approvals');
    expect(await ada.getByRole('row', { name: /Otto Other.*Production console.*Stage 2 of 2.*Forwarded to you/ }).count()).toBe(1);
    await decideInBrowser(ada, js, 'Otto Other', 'Approve', 'Approving as the alternate.');
    expect(await stateOf(escalating)).toBe('delivered');

    h.clock.advance({ days: 10 });
    await sweep();
    expect(await stateOf(expiring)).toBe('expired');
    const page = await h.newPage({ javaScript: js });
    await signInWithBrowser(page, USER.requestor);
    await visit(page, '/requests');
    expect(await page.getByRole('row', { name: /Wiki editors Expired/ }).count()).toBe(1);
    await page.getByRole('link', { name: /View request for Wiki editors/ }).click();
    await settle(page, js, 'expired request');
    expect(await page.textContent('main')).toContain('Expired: nobody decided in time');
    await page.getByRole('link', { name: 'Resubmit' }).click();
    await settle(page, js, 'resubmit after expiry');
    await page.getByRole('button', { name: 'Submit' }).click();
    await settle(page, js, 'resubmitted after expiry');
    expect(await database.db('requests').where({ resubmits_request_id: expiring }).count('* as n')).toEqual([{ n: 1 }]);
    await ada.context().close();
    await page.context().close();
  });
});
