import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Knex } from 'knex';
import type { Database } from '../../src/db/connect.ts';
import { checkIntegrity } from '../../src/integrity/checks.ts';
import { createTestDatabase } from '../support/db.ts';
import { createTestApp, seedDirectory } from '../support/app.ts';
import { fabrikam, PKG } from '../support/fixtures.ts';

// What a package gives and whom it is open to (access_packages.resources and open_to, kept by
// triggers) when two transactions change one package's roles or policies at once: the second must
// see the first's change once the first commits.

let database: Database;
let db: Database['db'];

beforeAll(async () => {
  database = await createTestDatabase({ poolMax: 4 });
  db = database.db;
  await seedDirectory(database, fabrikam(), createTestApp(database).clock);
});
afterAll(async () => {
  await database.close();
});

const roleId = async (resourceKey: string, name: string) =>
  (await db('resource_roles as rr').join('resources as r', 'r.id', 'rr.resource_id').where({ 'r.key': resourceKey, 'rr.name': name }).first('rr.id')).id as string;

/**
 * Runs `first` in a transaction, then `second` in another while the first is open: the second
 * must wait for the first's lock on the package (it is checked to be waiting, not done). Then the
 * first commits, and the second, which reads again after the lock, commits.
 */
async function secondWaitsForFirst(first: (trx: Knex.Transaction) => Promise<unknown>, second: (trx: Knex.Transaction) => PromiseLike<unknown>): Promise<void> {
  const one = await db.transaction();
  const two = await db.transaction();
  try {
    await first(one);
    // then(): knex sends a query only when it is awaited; this one must be sent now.
    const waiting = second(two).then(() => 'done');
    expect(await Promise.race([waiting, new Promise((r) => setTimeout(() => r('waiting'), 300))])).toBe('waiting');
    await one.commit();
    await waiting;
    await two.commit();
  } finally {
    if (!one.isCompleted()) await one.rollback();
    if (!two.isCompleted()) await two.rollback();
  }
}

describe('a package’s resources under concurrent changes', () => {
  it('lists the roles both transactions added, whichever commits first', async () => {
    const before = ((await db('access_packages').where({ id: PKG.repo }).first('resources')).resources as unknown[]).length;
    const [visitor, reader] = [await roleId('portal', 'Visitor'), await roleId('wiki', 'Reader')];
    // The second's trigger waits for the first's lock on the package, then reads again.
    await secondWaitsForFirst(
      (trx) => trx('access_package_resource_roles').insert({ access_package_id: PKG.repo, resource_role_id: visitor }),
      (trx) => trx('access_package_resource_roles').insert({ access_package_id: PKG.repo, resource_role_id: reader }),
    );
    const listed = (await db('access_packages').where({ id: PKG.repo }).first('resources')).resources as { resourceName: string; roleName: string }[];
    expect(listed).toHaveLength(before + 2);
    expect(listed.map((r) => `${r.resourceName} (${r.roleName})`)).toEqual(expect.arrayContaining(['Partner Portal (Visitor)', 'Team Wiki (Reader)']));
    expect(await checkIntegrity(db)).toEqual([]);
  });
});

describe('whom a package is open to under concurrent policy changes', () => {
  it('counts a policy open to everyone added while another transaction pauses the one open to members', async () => {
    expect((await db('access_packages').where({ id: PKG.repo }).first('open_to')).open_to).toBe('allMembers');
    await secondWaitsForFirst(
      (trx) => trx('policies').insert({ access_package_id: PKG.repo, name: 'Everyone', requestor_scope: 'allUsers', expiration_kind: 'never' }),
      (trx) => trx('policies').where({ access_package_id: PKG.repo, name: 'Members' }).update({ accept_requests: false }),
    );
    // Without the lock, the second computed from what it saw before the first committed (no policy
    // open to anyone) and wrote null over the first's 'allUsers'.
    expect((await db('access_packages').where({ id: PKG.repo }).first('open_to')).open_to).toBe('allUsers');
    expect(await checkIntegrity(db)).toEqual([]);
  });
});
