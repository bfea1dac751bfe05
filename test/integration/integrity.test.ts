import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/connect.ts';
import { checkIntegrity } from '../../src/integrity/checks.ts';
import { sweepAndQueueEmails } from '../../src/lifecycle/sweep.ts';
import { createLogger } from '../../src/log.ts';
import { createTestDatabase, testDatabaseKind } from '../support/db.ts';
import { createTestApp, csrfFrom, seedDirectory, signIn, type TestApp } from '../support/app.ts';
import { cli, cliEnv } from '../support/cli.ts';
import { fabrikam, PKG, USER } from '../support/fixtures.ts';
import { decide, policyId, requestId, validWiki } from '../support/flows.ts';

let database: Database;
let t: TestApp;
let db: Database['db'];
const ids: Record<string, string> = {};

beforeAll(async () => {
  database = await createTestDatabase();
  db = database.db;
  t = createTestApp(database);
  await seedDirectory(database, fabrikam(), t.clock);
  // A little of everything: delivered, scheduled, denied, canceled, two-stage, expired, ended.
  const rita = await signIn(t.app, USER.requestor);
  const otto = await signIn(t.app, USER.other);
  const max = await signIn(t.app, USER.manager);
  ids.delivered = await requestId(rita, PKG.repo, await policyId(db, PKG.repo, 'Members'), {});
  ids.denied = await requestId(rita, PKG.wiki, await policyId(db, PKG.wiki, 'Staff: with approval'), validWiki);
  await decide(max, ids.denied, 'deny', 'no');
  ids.twoStage = await requestId(otto, PKG.twoStage, await policyId(db, PKG.twoStage, 'Two stages'), { justification: 'x' });
  await decide(max, ids.twoStage, 'approve', 'ok');
  ids.canceled = await requestId(otto, PKG.wiki, await policyId(db, PKG.wiki, 'Staff: with approval'), { ...validWiki, 'attribute-0': 'CC-9' });
  const cancel = await otto.get(`/requests/${ids.canceled}/cancel`);
  await otto.post(`/requests/${ids.canceled}/cancel`).type('form').send({ _csrf: csrfFrom(cancel.text) });
  ids.expiring = await requestId(rita, PKG.billingSubmit, await policyId(db, PKG.billingSubmit, 'Members'), {});
  t.clock.advance({ days: 8 });
  await sweepAndQueueEmails({ db, notifier: t.services.notifier, logger: createLogger('silent') }, t.clock.now());
  t.clock.advance({ days: 100 });
  await sweepAndQueueEmails({ db, notifier: t.services.notifier, logger: createLogger('silent') }, t.clock.now());
  // And one waiting at its second stage.
  const lia = await signIn(t.app, USER.lead);
  ids.atSecondStage = await requestId(lia, PKG.twoStage, await policyId(db, PKG.twoStage, 'Two stages'), { justification: 'y' });
  await decide(max, ids.atSecondStage, 'approve', 'ok');
});
afterAll(async () => {
  await database.close();
});

describe('the integrity checker', () => {
  it('finds nothing wrong after real work', async () => {
    expect((await db('requests').where({ id: ids.expiring }).first('state')).state).toBe('expired');
    expect((await db('assignments').where({ request_id: ids.delivered }).first('state')).state).toBe('expired');
    expect(await checkIntegrity(db)).toEqual([]);
  });

  it('reports a delivered request without its assignment, a live grant on ended access, and an approver still asked', async () => {
    const assignment = await db('assignments').where({ request_id: ids.delivered }).first('id');
    await db('assignment_grants').where({ assignment_id: assignment.id }).update({ revoked_at: null });
    const stage = await db('request_stages').where({ request_id: ids.denied }).first('id');
    await db('request_stage_approvers').where({ stage_id: stage.id }).update({ open: true });
    // Asked again for a stage already decided, an approver would count it in their Overview, which
    // counts open items alone.
    const decided = await db('request_stages').where({ request_id: ids.atSecondStage, position: 1 }).first('id');
    await db('request_stage_approvers').where({ stage_id: decided.id }).update({ open: true });
    const breaches = await checkIntegrity(db);
    expect(breaches.map((b) => b.rule)).toEqual([
      'an assignment that is not delivered holds no live grant',
      'a request that is no longer pending has no pending stage and no approver still asked',
      'an approver still asked is asked for the pending stage, by its deadline, and never for their own request',
    ]);
    expect(breaches[0].examples).toEqual([assignment.id]);
    expect(breaches[1].examples).toEqual([ids.denied]);
    expect(breaches[2].examples).toEqual([ids.atSecondStage]);
    await db('assignment_grants').where({ assignment_id: assignment.id }).update({ revoked_at: t.clock.now() });
    await db('request_stage_approvers').where({ stage_id: stage.id }).update({ open: false });
    await db('request_stage_approvers').where({ stage_id: decided.id }).update({ open: false });
    expect(await checkIntegrity(db)).toEqual([]);
  });

  // The command opens the database in another process: PGlite's in-memory test database cannot be shared.
  it.runIf(testDatabaseKind() === 'postgres')('runs as npm run check-integrity, exiting 1 on a breach', async () => {
    const env = cliEnv({ DATABASE_URL: database.url!, DATA_DIR: t.config.dataDir });
    const ok = await cli('check-integrity.ts', [], env);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/All \d+ invariants hold/);
    const assignment = await db('assignments').where({ request_id: ids.delivered }).first('id');
    await db('assignment_grants').where({ assignment_id: assignment.id }).delete();
    await db('assignments').where({ id: assignment.id }).delete();
    const bad = await cli('check-integrity.ts', [], env);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('BREACH: every Delivered or Scheduled request has its assignment: 1');
  });
});
