import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { systemActor } from '../../src/audit/audit.ts';
import type { CurrentUser } from '../../src/auth/current-user.ts';
import type { Database } from '../../src/db/connect.ts';
import { sweepAndQueueEmails } from '../../src/lifecycle/sweep.ts';
import { createLogger } from '../../src/log.ts';
import { checkIntegrity } from '../../src/integrity/checks.ts';
import { createTestDatabase } from '../support/db.ts';
import { createTestApp, csrfFrom, signIn, type TestApp } from '../support/app.ts';
import { PKG, USER } from '../support/fixtures.ts';
import { instanceOf, itemId, liveAssignment, resetReviews, REVIEW, specificReview } from '../support/reviews.ts';

// Real PostgreSQL only: these need several connections at the same moment.
let database: Database;
let t: TestApp;
let db: Database['db'];

beforeAll(async () => {
  database = await createTestDatabase({ poolMax: 20 });
  db = database.db;
  t = createTestApp(database);
});
afterAll(async () => {
  await database.close();
});
beforeEach(() => {
  t.clock.set('2027-01-15T09:00:00Z');
});

const deps = () => ({ db, notifier: t.services.notifier, logger: createLogger('silent') });
const count = async (q: PromiseLike<{ n: number | string }[]>) => Number((await q)[0].n);

async function admin(): Promise<CurrentUser> {
  const row = await db('users as u').join('directories as d', 'd.id', 'u.directory_id').where({ 'u.email': USER.admin }).first('u.id', 'u.directory_id', 'd.hint', 'd.name');
  return { id: row.id, email: USER.admin, displayName: 'Ada Admin', type: 'member', isAdmin: true, ownsCatalogs: false, directory: { id: row.directory_id, hint: row.hint, name: row.name } };
}

/** A fresh instance of the specific review, and Ada (one of its reviewers) on the page of Otto's item. */
async function adaOpensOttosItem() {
  await resetReviews(database, t.clock, [specificReview()]);
  await sweepAndQueueEmails(deps(), t.clock.now());
  const instance = await instanceOf(db, REVIEW.specific);
  const ada = await signIn(t.app, USER.admin);
  const otto = await itemId(db, instance.id, USER.other);
  const page = await ada.get(`/access-reviews/${instance.id}/items/${otto}`);
  return { instance, ada, otto, page };
}

describe('access review races', () => {
  it('two sweeps at once start an instance once, with one email per reviewer', async () => {
    await resetReviews(database, t.clock, [specificReview()]);
    const [a, b, c] = await Promise.all([sweepAndQueueEmails(deps(), t.clock.now()), sweepAndQueueEmails(deps(), t.clock.now()), sweepAndQueueEmails(deps(), t.clock.now())]);
    expect(a.reviewsStarted + b.reviewsStarted + c.reviewsStarted).toBe(1);
    expect(await count(db('access_review_instances').count('* as n'))).toBe(1);
    expect(await count(db('access_review_items').count('* as n'))).toBe(4);
    expect(await count(db('notifications').where({ kind: 'accessReviewStarted' }).count('* as n'))).toBe(2);
  });

  it('a decision racing the end of the review and two sweeps: the review ends and applies once, and the late decision is refused', async () => {
    const { instance, ada, otto, page } = await adaOpensOttosItem();
    t.clock.set(instance.ends_at);
    const [decision, a, b] = await Promise.all([
      ada.post(`/access-reviews/${instance.id}/items/${otto}`).type('form').send({ _csrf: csrfFrom(page.text), decision: 'deny', justification: 'Too late.' }),
      sweepAndQueueEmails(deps(), t.clock.now()),
      sweepAndQueueEmails(deps(), t.clock.now()),
    ]);
    expect(decision.status).toBe(409);
    expect(a.reviewsEnded + b.reviewsEnded).toBeLessThanOrEqual(1);
    expect((await instanceOf(db, REVIEW.specific)).state).toBe('applied');
    expect(await count(db('audit_log').where({ target_id: instance.id, action: 'accessReview.ended' }).count('* as n'))).toBe(1);
    expect(await count(db('audit_log').where({ target_id: instance.id, action: 'accessReview.applied' }).count('* as n'))).toBe(1);
    expect(await db('access_review_items').where({ id: otto }).first('decision', 'outcome')).toEqual({ decision: null, outcome: 'kept' });
    expect((await liveAssignment(db, USER.other, PKG.repo))?.state).toBe('delivered');
  });

  it('a Deny racing an administrator’s stop: either the Deny counts and removes the access, or it is refused and the access kept', async () => {
    const seen = new Set<number>();
    for (let round = 0; round < 6; round++) {
      const { instance, ada, otto, page } = await adaOpensOttosItem();
      const user = await admin();
      const [decision, stop] = await Promise.allSettled([
        ada.post(`/access-reviews/${instance.id}/items/${otto}`).type('form').send({ _csrf: csrfFrom(page.text), decision: 'deny', justification: 'Gone.' }),
        t.services.reviews.stopReview(user, instance.id, systemActor('test')),
      ]);
      expect(stop.status).toBe('fulfilled');
      expect(decision.status).toBe('fulfilled');
      const status = (decision as PromiseFulfilledResult<{ status: number }>).value.status;
      expect([303, 409]).toContain(status);
      seen.add(status);
      const item = await db('access_review_items').where({ id: otto }).first('decision', 'outcome');
      const assignment = (await liveAssignment(db, USER.other, PKG.repo))!;
      if (status === 303) {
        expect(item).toEqual({ decision: 'deny', outcome: 'removed' });
        expect(assignment).toMatchObject({ state: 'expired', end_reason: 'review' });
      } else {
        expect(item).toEqual({ decision: null, outcome: 'kept' });
        expect(assignment.state).toBe('delivered');
      }
      expect((await instanceOf(db, REVIEW.specific)).state).toBe('applied');
    }
    expect(seen.size).toBeGreaterThanOrEqual(1);
  });

  it('a decision while a fellow reviewer is being deleted waits for the deletion, then counts for the reviewers who remain', async () => {
    const { instance, ada, otto, page } = await adaOpensOttosItem();
    const lia = (await db('users').where({ email: USER.lead }).first('id')).id;
    // Lia reviews Otto's item too; her deletion is not committed yet when Ada decides.
    const trx = await db.transaction();
    await trx('assignments').where({ user_id: lia }).delete();
    await trx('users').where({ id: lia }).delete();
    const decision = ada.post(`/access-reviews/${instance.id}/items/${otto}`).type('form').send({ _csrf: csrfFrom(page.text), decision: 'approve', justification: 'Checked.' });
    const settled = decision.then((r) => r);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await trx.commit();
    expect((await settled).status).toBe(303);
    const progress = await db('access_review_progress').where({ instance_id: instance.id }).select('user_id', 'total', 'decided');
    expect(progress).toEqual([{ user_id: (await db('users').where({ email: USER.admin }).first('id')).id, total: 3, decided: 1 }]);
    expect(await checkIntegrity(db)).toEqual([]);
  });

  it('two reviewers of the same items deciding and accepting recommendations at once: no deadlock, and each one’s progress adds up', async () => {
    for (let round = 0; round < 4; round++) {
      await resetReviews(database, t.clock, [specificReview()]);
      await sweepAndQueueEmails(deps(), t.clock.now());
      const instance = await instanceOf(db, REVIEW.specific);
      const ada = await signIn(t.app, USER.admin);
      const lia = await signIn(t.app, USER.lead);
      const [adaPage, liaPage] = await Promise.all([ada.get(`/access-reviews/${instance.id}`), lia.get(`/access-reviews/${instance.id}`)]);
      const otto = await itemId(db, instance.id, USER.other);
      const nina = await itemId(db, instance.id, USER.noManager);
      const decide = (agent: typeof ada, page: string, item: string, decision: string) =>
        agent.post(`/access-reviews/${instance.id}/items/${item}`).type('form').send({ _csrf: csrfFrom(page), decision, justification: 'Checked.' });
      const accept = (agent: typeof ada, page: string) => agent.post(`/access-reviews/${instance.id}/accept-recommendations`).type('form').send({ _csrf: csrfFrom(page) });
      const results = await Promise.all([accept(ada, adaPage.text), accept(lia, liaPage.text), decide(lia, liaPage.text, otto, 'approve'), decide(ada, adaPage.text, nina, 'dontKnow')]);
      expect(results.map((r) => r.status)).toEqual([303, 303, 303, 303]);
      const progress = await db('access_review_progress').where({ instance_id: instance.id }).select('total', 'decided', 'recommendable');
      // Ada reviews the four holders, Lia the three others; every item ends decided.
      expect(progress.map((p) => `${p.decided}/${p.total}, ${p.recommendable}`).sort()).toEqual(['3/3, 0', '4/4, 0']);
      expect(await checkIntegrity(db)).toEqual([]);
    }
  });
});
