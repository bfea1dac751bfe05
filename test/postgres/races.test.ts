import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/connect.ts';
import { sweepAndQueueEmails } from '../../src/lifecycle/sweep.ts';
import { createLogger } from '../../src/log.ts';
import { createTestDatabase } from '../support/db.ts';
import supertest from 'supertest';
import { THROTTLE } from '../../src/auth/throttle.ts';
import { createTestApp, csrfFrom, seedDirectory, signIn, TEST_PASSWORD, type TestApp } from '../support/app.ts';
import { fabrikam, PKG, USER } from '../support/fixtures.ts';
import { clearActivity, policyId, requestId, validWiki } from '../support/flows.ts';
import { checkIntegrity } from '../../src/integrity/checks.ts';
import { expireDueStages } from '../../src/approvals/lifecycle.ts';
import { systemActor } from '../../src/audit/audit.ts';

// Real PostgreSQL only: these need several connections deciding at the same moment.
let database: Database;
let t: TestApp;
let db: Database['db'];

beforeAll(async () => {
  database = await createTestDatabase({ poolMax: 20 });
  db = database.db;
  t = createTestApp(database);
  await seedDirectory(database, fabrikam(), t.clock);
});
afterAll(async () => {
  await database.close();
});
beforeEach(async () => {
  await clearActivity(db);
  t.clock.set('2027-01-15T09:00:00Z');
});

const statuses = (results: { status: number }[]) => results.map((r) => r.status).sort();
/** npm run soak sets SOAK_SCALE to run the long versions. */
const SCALE = Math.max(1, Number(process.env.SOAK_SCALE ?? 1));

describe('races', () => {
  it('two approvers deciding the same stage at once: one wins, the other gets 409', async () => {
    const otto = await signIn(t.app, USER.other);
    const max = await signIn(t.app, USER.manager);
    const id = await requestId(otto, PKG.twoStage, await policyId(db, PKG.twoStage, 'Two stages'), { justification: 'INC-2' });
    const maxPage = await max.get(`/approvals/${id}`);
    await max.post(`/approvals/${id}`).type('form').send({ _csrf: csrfFrom(maxPage.text), stage: '1', decision: 'approve', justification: 'ok' });
    const apu = await signIn(t.app, USER.approver);
    const lia = await signIn(t.app, USER.lead);
    const [apuPage, liaPage] = await Promise.all([apu.get(`/approvals/${id}`), lia.get(`/approvals/${id}`)]);
    const results = await Promise.all([
      apu.post(`/approvals/${id}`).type('form').send({ _csrf: csrfFrom(apuPage.text), stage: '2', decision: 'approve' }),
      lia.post(`/approvals/${id}`).type('form').send({ _csrf: csrfFrom(liaPage.text), stage: '2', decision: 'deny' }),
    ]);
    expect(statuses(results)).toEqual([303, 409]);
    const stage = await db('request_stages').where({ request_id: id, position: 2 }).first('decision', 'state');
    const state = (await db('requests').where({ id }).first('state')).state;
    expect(stage.decision === 'approve' ? 'delivered' : 'denied').toBe(state);
    expect(await db('assignments').where({ request_id: id }).count('* as n')).toEqual([{ n: state === 'delivered' ? 1 : 0 }]);
    expect(await db('audit_log').where({ target_id: id }).whereIn('action', ['request.stageApproved', 'request.denied']).count('* as n')).toEqual([{ n: 2 }]);
  });

  it('an approval racing an administrator assigning the same package: one assignment, no error page', async () => {
    const max = await signIn(t.app, USER.manager);
    const rita = await signIn(t.app, USER.requestor);
    const staff = await policyId(db, PKG.wiki, 'Staff: with approval');
    const id = await requestId(rita, PKG.wiki, staff, validWiki);
    const page = await max.get(`/approvals/${id}`);
    const person = await db('users').where({ email: USER.requestor }).first('id', 'directory_id');
    // The administrator's assignment, as the admin path makes it: the person's row locked, the
    // assignment written, not yet committed while the approval arrives.
    const admin = await db.transaction();
    try {
      await admin('users').where({ id: person.id }).forUpdate().first('id');
      await admin('assignments').insert({ directory_id: person.directory_id, access_package_id: PKG.wiki, policy_id: staff, user_id: person.id, origin: 'admin', state: 'delivered', starts_at: t.clock.now() });
      const approving = max.post(`/approvals/${id}`).type('form').send({ _csrf: csrfFrom(page.text), stage: '1', decision: 'approve' }).then((r) => r);
      await new Promise((r) => setTimeout(r, 300));
      await admin.commit();
      const res = await approving;
      expect(res.status, res.text.slice(0, 300)).toBe(303);
    } finally {
      if (!admin.isCompleted()) await admin.rollback();
    }
    expect((await db('requests').where({ id }).first('state')).state).toBe('deliveryFailed');
    expect(await db('assignments').where({ user_id: person.id, access_package_id: PKG.wiki }).whereIn('state', ['scheduled', 'delivered']).count('* as n')).toEqual([{ n: 1 }]);
  });

  it('an approval racing a cancel: exactly one of them happens', async () => {
    for (let round = 0; round < 5; round++) {
      await clearActivity(db);
      const rita = await signIn(t.app, USER.requestor);
      const max = await signIn(t.app, USER.manager);
      const id = await requestId(rita, PKG.wiki, await policyId(db, PKG.wiki, 'Staff: with approval'), validWiki);
      const [approvePage, cancelPage] = await Promise.all([max.get(`/approvals/${id}`), rita.get(`/requests/${id}/cancel`)]);
      const [approve, cancel] = await Promise.all([
        max.post(`/approvals/${id}`).type('form').send({ _csrf: csrfFrom(approvePage.text), stage: '1', decision: 'approve' }),
        rita.post(`/requests/${id}/cancel`).type('form').send({ _csrf: csrfFrom(cancelPage.text) }),
      ]);
      expect(statuses([approve, cancel])).toEqual([303, 409]);
      const state = (await db('requests').where({ id }).first('state')).state;
      expect(state).toBe(approve.status === 303 ? 'delivered' : 'canceled');
      expect(await db('assignments').where({ request_id: id }).count('* as n')).toEqual([{ n: approve.status === 303 ? 1 : 0 }]);
    }
  });

  it('a decision racing the timeout and two sweeps: the request expires once', async () => {
    const rita = await signIn(t.app, USER.requestor);
    const max = await signIn(t.app, USER.manager);
    const id = await requestId(rita, PKG.wiki, await policyId(db, PKG.wiki, 'Staff: with approval'), validWiki);
    const page = await max.get(`/approvals/${id}`);
    t.clock.advance({ days: 14 });
    const deps = { db, notifier: t.services.notifier, logger: createLogger('silent') };
    const [decision, a, b] = await Promise.all([
      max.post(`/approvals/${id}`).type('form').send({ _csrf: csrfFrom(page.text), stage: '1', decision: 'approve' }),
      sweepAndQueueEmails(deps, t.clock.now()),
      sweepAndQueueEmails(deps, t.clock.now()),
    ]);
    expect(decision.status).toBe(409);
    expect(a.requestsExpired + b.requestsExpired).toBeLessThanOrEqual(1);
    expect((await db('requests').where({ id }).first('state')).state).toBe('expired');
    expect(await db('audit_log').where({ target_id: id, action: 'request.expired' }).count('* as n')).toEqual([{ n: 1 }]);
    expect(await db('notifications').where({ kind: 'requestExpired' }).count('* as n')).toEqual([{ n: 1 }]);
  });

  it('a request being decided is left to its approver by the sweep, which takes the next due in its place', async () => {
    const wiki = await policyId(db, PKG.wiki, 'Staff: with approval');
    const first = await requestId(await signIn(t.app, USER.requestor), PKG.wiki, wiki, validWiki);
    t.clock.advance({ hours: 1 });
    const others = [
      await requestId(await signIn(t.app, USER.other), PKG.wiki, wiki, { ...validWiki, 'attribute-0': 'CC-2' }),
      await requestId(await signIn(t.app, USER.lead), PKG.wiki, wiki, { ...validWiki, 'attribute-0': 'CC-3' }),
    ];
    t.clock.advance({ days: 15 });
    // An approver's decision holds the first request, the soonest due, while the sweep takes a batch of two.
    const deciding = await db.transaction();
    const sweeping = await db.transaction();
    try {
      await deciding('requests').where({ id: first }).forUpdate().first('id');
      expect(await expireDueStages(sweeping, t.clock.now(), systemActor('lifecycle'), t.services.notifier, { limit: 2 })).toBe(2);
      // The decision goes on to lock the request's stage, as deciding does, while the sweep's batch is
      // still open: the sweep holds nothing of the request it left, so the decision does not wait for it.
      await deciding.raw("set local lock_timeout = '2s'");
      expect(await deciding('request_stages').where({ request_id: first, position: 1 }).forUpdate().first('state')).toEqual({ state: 'pending' });
      await sweeping.commit();
    } finally {
      if (!sweeping.isCompleted()) await sweeping.rollback();
      await deciding.rollback();
    }
    expect(await db('requests').whereIn('id', others).pluck('state')).toEqual(['expired', 'expired']);
    expect((await db('requests').where({ id: first }).first('state')).state).toBe('pendingApproval');
    expect(await checkIntegrity(db)).toEqual([]);
  });

  it('twenty simultaneous submits of one form create one request', async () => {
    const rita = await signIn(t.app, USER.requestor);
    const policy = await policyId(db, PKG.wiki, 'Staff: with approval');
    const form = await rita.get(`/access-packages/${PKG.wiki}/request?policy=${policy}`);
    const fields = {
      _csrf: csrfFrom(form.text),
      policy,
      policyVersion: /name="policyVersion" value="([^"]+)"/.exec(form.text)![1],
      submissionKey: /name="submissionKey" value="([^"]+)"/.exec(form.text)![1],
      ...validWiki,
    };
    const results = await Promise.all(Array.from({ length: 20 }, () => rita.post(`/access-packages/${PKG.wiki}/request`).type('form').send(fields)));
    expect(new Set(results.map((r) => r.status))).toEqual(new Set([303]));
    expect(new Set(results.map((r) => r.headers.location)).size).toBe(1);
    expect(await db('requests').count('* as n')).toEqual([{ n: 1 }]);
    expect(await db('notifications').where({ kind: 'approvalNeeded' }).count('* as n')).toEqual([{ n: 1 }]);
  });

  it('sign-in attempts at once on many connections: at most the limit of passwords checked per account and per address', async () => {
    /** Each attempt from its own browser, as an attacker would send them: its own session and CSRF token. */
    const attempts = async (emails: string[], password: string) => {
      const agents = await Promise.all(emails.map(async (email) => {
        const agent = supertest.agent(t.app);
        return { agent, email, token: csrfFrom((await agent.get('/sign-in')).text) };
      }));
      const results = await Promise.all(agents.map(({ agent, email, token }) => agent.post('/sign-in').type('form').send({ _csrf: token, email, password })));
      return { checked: results.filter((r) => r.status === 401).length, refused: results.filter((r) => r.status === 429).length };
    };
    try {
      expect(await attempts(Array(20).fill(USER.lead), 'not-the-password')).toEqual({ checked: THROTTLE.accountFailures, refused: 20 - THROTTLE.accountFailures });
      expect(await attempts([USER.lead], TEST_PASSWORD)).toEqual({ checked: 0, refused: 1 });
      // The address has used 5 of its 30 failures: 40 accounts at once get 25 more checks.
      const left = THROTTLE.addressFailures - THROTTLE.accountFailures;
      expect(await attempts(Array.from({ length: 40 }, (_, i) => `nobody${i}@fabrikam.test`), 'not-the-password')).toEqual({ checked: left, refused: 40 - left });
      expect(await attempts([USER.approver], TEST_PASSWORD)).toEqual({ checked: 0, refused: 1 });
    } finally {
      await db('sign_in_throttle').delete();
    }
  });

  it('fifty simultaneous decisions, cancels and sweeps: one outcome each, one assignment, one audit entry and one email per outcome', async () => {
    for (let round = 0; round < SCALE; round++) {
      await oneRound();
      t.clock.set('2027-01-15T09:00:00Z');
      await clearActivity(db);
    }
  });
});

/** Three requests; five approvals, five denials, five cancels each; sweeps to make fifty operations at once. */
async function oneRound() {
  const people = [USER.requestor, USER.other, USER.noManager];
  const apu = await signIn(t.app, USER.approver);
  const lia = await signIn(t.app, USER.lead);
  const requests: { id: string; owner: Awaited<ReturnType<typeof signIn>> }[] = [];
  for (const email of people) {
  const agent = await signIn(t.app, email);
  const id = await requestId(agent, PKG.billingSubmit, await policyId(db, PKG.billingSubmit, 'Members'), {});
  requests.push({ id, owner: agent });
  }
  // Apu approves or denies; Lia is no approver of these (404); the requestor cancels; sweeps expire.
  const deps = { db, notifier: t.services.notifier, logger: createLogger('silent') };
  const pages = await Promise.all(requests.map(async (r) => ({ apu: await apu.get(`/approvals/${r.id}`), lia: await lia.get(`/approvals/${r.id}`), cancel: await r.owner.get(`/requests/${r.id}/cancel`) })));
  t.clock.advance({ days: 6, hours: 23, minutes: 59 }); // just before the deadline: decisions, cancels and sweeps all race
  const operations: Promise<unknown>[] = [];
  requests.forEach((r, i) => {
  const token = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
  for (let k = 0; k < 5; k++) {
    operations.push(apu.post(`/approvals/${r.id}`).type('form').send({ _csrf: token(pages[i].apu.text), stage: '1', decision: k % 2 ? 'deny' : 'approve' }));
    operations.push(lia.post(`/approvals/${r.id}`).type('form').send({ _csrf: token(pages[i].lia.text), stage: '1', decision: 'approve' }));
    operations.push(r.owner.post(`/requests/${r.id}/cancel`).type('form').send({ _csrf: token(pages[i].cancel.text) }));
  }
  });
  while (operations.length < 50) operations.push(sweepAndQueueEmails(deps, t.clock.now()));
  for (let extra = 0; extra < (SCALE - 1) * 50; extra++) operations.push(extra % 5 ? apu.get('/approvals') : sweepAndQueueEmails(deps, t.clock.now()));
  const settled = await Promise.allSettled(operations);
  expect(settled.filter((s) => s.status === 'rejected')).toEqual([]);
  for (const s of settled) if (s.status === 'fulfilled' && typeof (s.value as { status?: number }).status === 'number') expect((s.value as { status: number }).status).toBeLessThan(500);

  for (const r of requests) {
  const { state } = await db('requests').where({ id: r.id }).first('state');
  expect(['expired', 'canceled', 'denied', 'delivered']).toContain(state);
  const outcomes = await db('audit_log').where({ target_id: r.id }).whereIn('action', ['request.expired', 'request.canceled', 'request.denied', 'request.delivered']).pluck('action');
  expect(outcomes).toEqual([`request.${state}`]);
  expect(await db('assignments').where({ request_id: r.id }).count('* as n')).toEqual([{ n: state === 'delivered' ? 1 : 0 }]);
  const mail: Record<string, string> = { expired: 'requestExpired', denied: 'requestDenied', delivered: 'accessGranted' };
  if (mail[state]) {
    const owner = await db('requests as q').join('users as u', 'u.id', 'q.target_user_id').where('q.id', r.id).first('u.id');
    expect(await db('notifications').where({ kind: mail[state], to_user_id: owner.id }).count('* as n')).toEqual([{ n: 1 }]);
  }
  }
  expect(await checkIntegrity(db)).toEqual([]);
}
