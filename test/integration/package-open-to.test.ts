import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/connect.ts';
import { checkIntegrity } from '../../src/integrity/checks.ts';
import { signIn, type TestApp } from '../support/app.ts';
import { fabrikamApp, PKG, USER } from '../support/fixtures.ts';

// Whom a package is open to (access_packages.open_to, kept by triggers on policies) lets Available
// list a package without reading its policies: it must follow every change to them, and Available
// must still list what the policies allow and nothing more.

let database: Database;
let t: TestApp;
let db: Database['db'];

beforeAll(async () => {
  ({ database, db, t } = await fabrikamApp());
});
afterAll(() => database.close());

const openTo = async (pkg: string) => (await db('access_packages').where({ id: pkg }).first('open_to')).open_to as string | null;
const policyOf = (pkg: string) => db('policies').where({ access_package_id: pkg });
/** The names Available lists for this person (first page; the fixture has fewer than 20). */
const available = async (email: string) => {
  const page = (await (await signIn(t.app, email)).get('/access-packages')).text;
  return [...page.matchAll(/<th scope="row">\s*<a [^>]*>([^<]*)<\/a>/g)].map((m) => m[1]);
};

describe('whom a package is open to, as Available lists it', () => {
  it('is what the directory file’s policies say', async () => {
    expect(await openTo(PKG.repo)).toBe('allMembers');
    expect(await openTo(PKG.partner)).toBe('allUsers');
    // Only named groups, taking no requests, or assigned by administrators: checked policy by policy.
    expect(await openTo(PKG.wiki)).toBeNull();
    expect(await openTo(PKG.closed)).toBeNull();
    expect(await openTo(PKG.adminOnly)).toBeNull();
    expect(await checkIntegrity(db)).toEqual([]);
    // A member of Staff sees Wiki editors through its policy; a member outside it does not; a guest sees only what is open to everyone.
    expect(await available(USER.requestor)).toEqual(expect.arrayContaining(['Repository access', 'Partner portal', 'Wiki editors']));
    expect(await available(USER.approver)).toEqual(expect.arrayContaining(['Repository access', 'Partner portal']));
    expect(await available(USER.approver)).not.toContain('Wiki editors');
    expect(await available(USER.guest)).toEqual(['Partner portal']);
  });

  it('follows a policy’s scope, its pause and its end date', async () => {
    await policyOf(PKG.repo).update({ requestor_scope: 'specific' });
    expect(await openTo(PKG.repo)).toBeNull();
    expect(await available(USER.requestor)).not.toContain('Repository access');

    await policyOf(PKG.repo).update({ requestor_scope: 'allUsers' });
    expect(await openTo(PKG.repo)).toBe('allUsers');
    expect(await available(USER.guest)).toContain('Repository access');

    await policyOf(PKG.repo).update({ accept_requests: false });
    expect(await openTo(PKG.repo)).toBeNull();
    expect(await available(USER.guest)).not.toContain('Repository access');
    expect(await available(USER.requestor)).not.toContain('Repository access');

    // A policy that ends on a date is open until then: the listing checks it as it reads.
    await policyOf(PKG.repo).update({ accept_requests: true, expiration_kind: 'onDate', expiration_days: null, expiration_date: new Date(t.clock.now().getTime() + 10 * 86_400_000) });
    expect(await openTo(PKG.repo)).toBeNull();
    expect(await available(USER.requestor)).toContain('Repository access');
    expect(await available(USER.guest)).toContain('Repository access');
    await policyOf(PKG.repo).update({ expiration_date: new Date(t.clock.now().getTime() - 86_400_000) });
    expect(await available(USER.requestor)).not.toContain('Repository access');

    await policyOf(PKG.repo).update({ requestor_scope: 'allMembers', expiration_kind: 'afterDays', expiration_days: 90, expiration_date: null });
    expect(await openTo(PKG.repo)).toBe('allMembers');
    expect(await available(USER.guest)).not.toContain('Repository access');
    expect(await checkIntegrity(db)).toEqual([]);
  });

  it('follows policies added, moved to another package and deleted', async () => {
    const [{ id }] = await db('policies')
      .insert({ access_package_id: PKG.wiki, name: 'Everyone', requestor_scope: 'allUsers', expiration_kind: 'never' })
      .returning('id');
    expect(await openTo(PKG.wiki)).toBe('allUsers');
    expect(await available(USER.approver)).toContain('Wiki editors');
    expect(await available(USER.guest)).toContain('Wiki editors');

    await db('policies').where({ id }).update({ access_package_id: PKG.closed });
    expect(await openTo(PKG.wiki)).toBeNull();
    expect(await openTo(PKG.closed)).toBe('allUsers');
    expect(await available(USER.guest)).toEqual(expect.arrayContaining(['Partner portal', 'Closed for requests']));
    expect(await available(USER.guest)).not.toContain('Wiki editors');

    await db('policies').where({ id }).delete();
    expect(await openTo(PKG.closed)).toBeNull();
    expect(await available(USER.guest)).toEqual(['Partner portal']);
    expect(await checkIntegrity(db)).toEqual([]);
  });

  it('is reported by the integrity check when it does not match the policies', async () => {
    await db.raw(`alter table policies disable trigger policies_changed`);
    try {
      await policyOf(PKG.repo).update({ accept_requests: false });
    } finally {
      await db.raw(`alter table policies enable trigger policies_changed`);
    }
    expect(await checkIntegrity(db)).toEqual([{ rule: 'a package says whom its policies open it to (kept by triggers)', count: 1, examples: [PKG.repo] }]);
    await db.raw(`update access_packages set open_to = access_package_open_to(id) where id = ?`, [PKG.repo]);
    expect(await checkIntegrity(db)).toEqual([]);
  });
});
