import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/connect.ts';
import { createTestDatabase } from '../support/db.ts';
import { createTestApp, csrfFrom, seedDirectory, signIn, type Agent, type TestApp } from '../support/app.ts';
import { PKG, USER } from '../support/fixtures.ts';
import { clearActivity, decide, policyId, requestId } from '../support/flows.ts';
import { instanceOf, managerReview, REVIEW, reviewFixture, sweeper } from '../support/reviews.ts';

let database: Database;
let t: TestApp;
let db: Database['db'];

/** The number on a card, or null when the card is not shown. */
async function cardCount(agent: Agent, title: string): Promise<number | null> {
  const page = await agent.get('/');
  expect(page.status).toBe(200);
  const m = new RegExp(`<h2 id="card-[a-z]+">${title}</h2>\\s*<p class="card__count">(\\d+)</p>`).exec(page.text);
  return m ? Number(m[1]) : null;
}

beforeAll(async () => {
  database = await createTestDatabase();
  db = database.db;
  t = createTestApp(database);
});
afterAll(async () => {
  await database.close();
});
beforeEach(async () => {
  t.clock.set('2027-01-15T09:00:00Z');
  await db('access_review_instances').delete();
  await clearActivity(db);
  const file = reviewFixture([managerReview()]);
  // Max's repository access ends in ten days.
  file.assignments.push({ user: USER.manager, accessPackage: PKG.repo, policy: 'Members', start: 'now-80d', end: 'now+10d' });
  await seedDirectory(database, file, t.clock);
});

describe('Overview', () => {
  it('says so when there is nothing to do', async () => {
    const nina = await signIn(t.app, USER.noManager);
    const page = await nina.get('/');
    expect(page.text).toContain('<h1>Overview</h1>');
    expect(page.text).toContain('You have nothing to do right now.');
    expect(page.text).not.toContain('class="card"');
  });

  it('shows a card for each kind of work, linking to where it is done, and the counts move as work is done', async () => {
    await sweeper(db, t.services, t.clock)();
    const otto = await signIn(t.app, USER.other);
    const lia = await signIn(t.app, USER.lead);
    const ottoRequest = await requestId(otto, PKG.twoStage, await policyId(db, PKG.twoStage, 'Two stages'), { justification: 'INC-1' });
    t.clock.advance({ days: 1 });
    const liaRequest = await requestId(lia, PKG.twoStage, await policyId(db, PKG.twoStage, 'Two stages'), { justification: 'INC-2' });
    const max = await signIn(t.app, USER.manager);
    const maxRequest = await requestId(max, PKG.billingSubmit, await policyId(db, PKG.billingSubmit, 'Members'), {});

    const page = await max.get('/');
    expect(page.text).not.toContain('nothing to do');
    expect(page.text).toMatch(/<p class="card__count">2<\/p>\s*<p>requests wait for your approval\. Decide the first by <time datetime="2027-01-22T09:00:00.000Z">22 January 2027 at 09:00 UTC<\/time>\.<\/p>\s*<p><a href="\/approvals">Go to Approvals<\/a><\/p>/);
    expect(page.text).toMatch(/<p class="card__count">1<\/p>\s*<p>access review to complete, with 3 decisions to make\. The first ends on <time[^>]*>22 January 2027 at 09:00 UTC<\/time>\.<\/p>\s*<p><a href="\/access-reviews">Go to Access reviews<\/a><\/p>/);
    expect(page.text).toMatch(/<p class="card__count">1<\/p>\s*<p>request of yours is still pending\.<\/p>\s*<p><a href="\/requests">Go to Request history<\/a><\/p>/);
    expect(page.text).toMatch(/<p class="card__count">1<\/p>\s*<p>access package ends in the next 14 days\. The first ends on <time[^>]*>25 January 2027 at 09:00 UTC<\/time>\.<\/p>\s*<p><a href="\/access-packages\/active">See your active access packages<\/a><\/p>/);

    expect((await decide(max, ottoRequest, 'approve', 'On call.')).status).toBe(303);
    expect(await cardCount(max, 'Approvals')).toBe(1);
    // Lia cancels hers: nothing is left for Max to approve.
    const cancel = await lia.get(`/requests/${liaRequest}/cancel`);
    expect((await lia.post(`/requests/${liaRequest}/cancel`).type('form').send({ _csrf: csrfFrom(cancel.text) })).status).toBe(303);
    expect(await cardCount(max, 'Approvals')).toBeNull();

    const instance = await instanceOf(db, REVIEW.manager);
    const review = await max.get(`/access-reviews/${instance.id}`);
    await max.post(`/access-reviews/${instance.id}/accept-recommendations`).type('form').send({ _csrf: csrfFrom(review.text) });
    expect(await cardCount(max, 'Access reviews')).toBeNull();

    const apu = await signIn(t.app, USER.approver);
    expect((await decide(apu, maxRequest, 'approve')).status).toBe(303);
    expect(await cardCount(max, 'Your requests')).toBeNull();

    // Apu now sees the second stage of Otto's request, and his own review items.
    expect(await cardCount(apu, 'Approvals')).toBe(1);
    expect(await cardCount(apu, 'Access reviews')).toBe(1);

    // Undecided after four days, the stage is forwarded to Ada as well; after seven it expires.
    const ada = await signIn(t.app, USER.admin);
    expect(await cardCount(ada, 'Approvals')).toBeNull();
    t.clock.advance({ days: 5 });
    await sweeper(db, t.services, t.clock)();
    expect(await cardCount(ada, 'Approvals')).toBe(1);
    expect(await cardCount(apu, 'Approvals')).toBe(1);
    t.clock.advance({ days: 5 });
    await sweeper(db, t.services, t.clock)();
    expect(await cardCount(ada, 'Approvals')).toBeNull();
    expect(await cardCount(apu, 'Approvals')).toBeNull();
    expect(await cardCount(max, 'Access ending soon')).toBeNull();
  });
});
