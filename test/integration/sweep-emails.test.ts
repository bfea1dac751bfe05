import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/connect.ts';
import { runSweep, sweepAndQueueEmails } from '../../src/lifecycle/sweep.ts';
import { createLogger } from '../../src/log.ts';
import { queueDeferredNotifications } from '../../src/notifications/deferred.ts';
import { signIn, type TestApp } from '../support/app.ts';
import { fabrikamApp, PKG, USER } from '../support/fixtures.ts';
import { clearActivity, policyId, requestId, validWiki } from '../support/flows.ts';
import { mailTo as readMail } from '../support/mail.ts';

let database: Database;
let t: TestApp;
let db: Database['db'];
const logger = createLogger('silent');

const sweepOnly = () => runSweep({ db, notifier: t.services.notifier, logger }, t.clock.now());
const queue = () => queueDeferredNotifications(db, t.services.notifier, logger);
const expiredMailTo = async (email: string) => (await readMail(t, email)).map((m) => m.subject).filter((s) => s.includes('expired'));
const events = () => db('notification_events').orderBy('id').select('kind', 'attempts', 'last_error', 'next_attempt_at');

/** Two requests that expire at the next sweep: Rita's and Nina's, both waiting for the deadline. */
async function expiringRequests(): Promise<string[]> {
  const rita = await signIn(t.app, USER.requestor);
  const ids = [await requestId(rita, PKG.wiki, await policyId(db, PKG.wiki, 'Staff: with approval'), validWiki)];
  const gus = await signIn(t.app, USER.guest);
  ids.push(await requestId(gus, PKG.partner, await policyId(db, PKG.partner, 'Everyone: sponsor approval'), {}));
  t.clock.advance({ days: 60 });
  return ids;
}

beforeAll(async () => {
  ({ database, db, t } = await fabrikamApp());
});
afterAll(() => database.close());
beforeEach(async () => {
  await clearActivity(db);
  t.clock.set('2027-01-15T09:00:00Z');
});

describe('emails the sweep causes', () => {
  it('are kept as an event with the change, then written once as one message per person', async () => {
    await expiringRequests();
    expect((await sweepOnly()).requestsExpired).toBe(2);
    // The change is made and its emails are promised, in the same transaction; none is written yet.
    expect(await events()).toMatchObject([{ kind: 'requestsExpired', attempts: 0 }]);
    expect(await expiredMailTo(USER.requestor)).toEqual([]);

    expect(await queue()).toBe(1);
    expect(await events()).toEqual([]);
    expect(await expiredMailTo(USER.requestor)).toEqual(['Your request for Wiki editors has expired']);
    expect((await expiredMailTo(USER.manager)).sort()).toEqual(['Request has expired: Partner portal for Gus Guest', 'Request has expired: Wiki editors for Rita Requestor']);
    expect(await queue()).toBe(0);
    expect(await db('notifications').where('kind', 'like', 'requestExpired%').count({ n: '*' }).first()).toEqual({ n: 4 });
  });

  it('are written once when several processes queue them at the same moment', async () => {
    await expiringRequests();
    await sweepOnly();
    const done = await Promise.all([queue(), queue(), queue()]);
    expect(done.reduce((a, b) => a + b, 0)).toBe(1);
    expect(await db('notifications').where('kind', 'like', 'requestExpired%').count({ n: '*' }).first()).toEqual({ n: 4 });
  });

  it('that cannot be written are retried later, all or none of an event, and the others still go out', async () => {
    const [ritas, guss] = await expiringRequests();
    await sweepOnly();
    await db('notification_events').delete();
    const event = (kind: string, args: unknown[]) => db('notification_events').insert({ kind, args: JSON.stringify(args), created_at: t.clock.now(), next_attempt_at: new Date() });
    // Rita's request beside one that is gone (as if deleted meanwhile); a kind this version does not know; an id PostgreSQL
    // refuses (the error aborts what the event wrote so far, not the transaction that records the retry); then Gus's request.
    await event('requestsExpired', [[{ requestId: ritas, stage: 1, approverIds: [] }, { requestId: '00000000-0000-4000-8000-000000000000', stage: 1, approverIds: [] }]]);
    await event('noSuchKind', []);
    await event('accessEnded', [['not-a-uuid'], 'its end date passed']);
    await event('requestsExpired', [[{ requestId: guss, stage: 1, approverIds: [] }]]);

    expect(await queue()).toBe(1);
    expect(await expiredMailTo(USER.guest)).toEqual(['Your request for Partner portal has expired']);
    // None of the failed event was written, not even Rita's part of it.
    expect(await expiredMailTo(USER.requestor)).toEqual([]);
    const left = await events();
    expect(left.map((e) => [e.kind, e.attempts])).toEqual([['requestsExpired', 1], ['noSuchKind', 1], ['accessEnded', 1]]);
    expect(left[1].last_error).toContain('noSuchKind');
    expect(left[2].last_error).toContain('uuid');
    for (const e of left) expect(new Date(e.next_attempt_at).getTime()).toBeGreaterThan(Date.now());
    // Not retried before their time.
    expect(await queue()).toBe(0);
  });

  it('are still written when another step of the sweep fails', async () => {
    const rita = await signIn(t.app, USER.requestor);
    await requestId(rita, PKG.wiki, await policyId(db, PKG.wiki, 'Staff: with approval'), validWiki);
    // Repository access is delivered at once and ends on 15 April 2027: by 5 April a reminder is due.
    const repo = await requestId(rita, PKG.repo, await policyId(db, PKG.repo, 'Members'), {});
    expect((await db('requests').where({ id: repo }).first('state')).state).toBe('delivered');
    t.clock.set('2027-04-05T09:00:00Z');
    // The reminder step fails (as when the database refuses a statement) after requests have expired beside it.
    const failing = { ...t.services.notifier, accessEndingSoon: async () => { throw new Error('the reminder step failed'); } };
    await expect(sweepAndQueueEmails({ db, notifier: failing, logger }, t.clock.now())).rejects.toThrow('the reminder step failed');
    expect(await events()).toEqual([]);
    expect(await expiredMailTo(USER.requestor)).toEqual(['Your request for Wiki editors has expired']);
  });

  it('do not say access was given when it was taken away before they were written', async () => {
    const rita = await signIn(t.app, USER.requestor);
    await requestId(rita, PKG.repo, await policyId(db, PKG.repo, 'Members'), { specificPeriod: 'yes', startDate: '2027-02-01', endDate: '2027-02-10' });
    // Portico was down from before the start until after the end: one sweep starts and ends the access.
    t.clock.set('2027-02-15T09:00:00Z');
    const report = await sweepOnly();
    expect([report.assignmentsStarted, report.assignmentsEnded]).toEqual([1, 1]);
    await queue();
    const subjects = (await readMail(t, USER.requestor)).map((m) => m.subject);
    expect(subjects).toContain('Access has ended for Repository access');
    expect(subjects).not.toContain('You now have access to Repository access');
  });
});
