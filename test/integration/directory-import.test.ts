import { describe, expect, it } from 'vitest';
import { isPasswordHash, verifyPassword } from '../../src/auth/password.ts';
import { FixedClock } from '../../src/clock.ts';
import type { Database } from '../../src/db/connect.ts';
import { exportDirectory } from '../../src/directory/export.ts';
import { renderPlan } from '../../src/directory/import.ts';
import { createTestDatabase } from '../support/db.ts';
import { contoso, count, DEMO_FILE, hasContoso, readJson, run, runOk, snapshot } from './directory-support.ts';

const T0 = '2026-11-24T10:00:00.000Z';
const PAYMENTS_SUBMIT = 'ebfd3804-706e-49e3-b009-7126a11fb650';
const LEGACY_CRM = '725ccd1e-d277-4e1d-b875-b3e2122cf409';
const BOARD_PORTAL = '8e002b7b-01be-4199-b207-7873b184ba63';

async function withDb(fn: (database: Database) => Promise<void>): Promise<void> {
  const database = await createTestDatabase();
  try {
    await fn(database);
  } finally {
    await database.close();
  }
}

const changeList = (plan: { changes: { kind: string; action: string; label: string; fields?: string[] }[] }) =>
  plan.changes.map((c) => [c.kind, c.action, c.label, ...(c.fields ? [c.fields.join(', ')] : [])].join(' | '));

// contoso.json is the contract's example, outside the repository: without it these tests are skipped.
describe.skipIf(!hasContoso)('importing contoso.json', () => {
  it('imports cleanly and creates what the file describes', () =>
    withDb(async ({ db }) => {
      const clock = new FixedClock(T0);
      const result = await runOk(db, contoso(), clock);
      expect(result.applied).toBe(true);
      expect(result.plan.newDirectory).toBe(true);
      expect(result.plan.counts.user.create).toBe(7);

      const [dir] = await db('directories').select('*');
      expect(dir).toMatchObject({ hint: 'contoso.com', name: 'Contoso', sign_in: { password: true } });
      expect(new Date(dir.last_imported_at).toISOString()).toBe(T0);
      expect(await count(db, 'users')).toBe(7);
      expect(await count(db, 'users', { is_admin: true })).toBe(1);
      expect(await count(db, 'users', { type: 'guest' })).toBe(1);
      expect(await count(db, 'user_sponsors')).toBe(1);
      expect(await count(db, 'groups')).toBe(3);
      expect(await count(db, 'group_members')).toBe(5);
      expect(await count(db, 'catalogs')).toBe(3);
      expect(await count(db, 'catalog_owners')).toBe(3);
      expect(await count(db, 'resources')).toBe(6);
      expect(await count(db, 'resource_roles')).toBe(12);
      expect(await count(db, 'access_packages')).toBe(7);
      expect(await count(db, 'access_packages', { hidden: true })).toBe(1);
      expect(await count(db, 'access_package_incompatibles')).toBe(2);
      expect(await count(db, 'policies')).toBe(8);
      expect(await count(db, 'policy_requestors')).toBe(2);
      expect(await count(db, 'policy_stages')).toBe(6);
      expect(await count(db, 'policy_stage_approvers')).toBe(9);
      expect(await count(db, 'assignments', { origin: 'import', state: 'delivered' })).toBe(4);
      expect(await count(db, 'assignment_grants')).toBe(4);
      expect(await count(db, 'access_reviews')).toBe(3);
      expect(await count(db, 'access_review_reviewers')).toBe(2);

      const rene = await db('users').where({ email: 'rene.requestor@contoso.com' }).first();
      const mona = await db('users').where({ email: 'mona.manager@contoso.com' }).first();
      expect(rene.manager_id).toBe(mona.id);
      expect(rene.attributes).toEqual({ department: 'Engineering', jobTitle: 'Software Engineer', costCenter: 'CC-1001' });
      expect(new Date(rene.last_sign_in_at).toISOString()).toBe('2026-11-22T10:00:00.000Z');

      const twoStage = await db('policies').where({ name: 'Members: two-stage approval' }).first();
      const stages = await db('policy_stages').where({ policy_id: twoStage.id }).orderBy('position');
      expect(stages.map((s) => [s.position, s.timeout_days, s.require_approver_justification, s.escalation_after_days])).toEqual([
        [1, 7, true, null],
        [2, 7, true, 4],
      ]);
      const build = await db('policies').where({ name: 'Engineering: 60 days with approval' }).first();
      expect(build).toMatchObject({ requestor_scope: 'specific', require_justification: true, expiration_kind: 'afterDays', expiration_days: 60, allow_custom_period: true });
      expect(build.questions[0]).toEqual({
        key: 'ticket',
        text: 'Which ticket is this access for?',
        type: 'shortText',
        required: true,
        pattern: '^[A-Z]+-[0-9]+$',
        patternHint: 'A ticket key such as ENG-123',
      });
      expect(build.requestor_attributes[0]).toEqual({ attribute: 'costCenter', label: 'Cost center', type: 'shortText', required: true, editable: false });
      const crm = await db('policies').where({ name: 'Everyone, including guests: owner approval' }).first();
      expect(crm.expiration_kind).toBe('onDate');
      expect(new Date(crm.expiration_date).toISOString()).toBe('2027-06-12T10:00:00.000Z');

      const lee = await db('assignments as a').join('users as u', 'u.id', 'a.user_id').where('u.email', 'lee.lead@contoso.com').first('a.*');
      expect(new Date(lee.starts_at).toISOString()).toBe('2026-11-22T10:00:00.000Z');
      expect(new Date(lee.ends_at).toISOString()).toBe('2026-11-29T10:00:00.000Z');

      const audit = await db('audit_log').where({ action: 'directory.imported' });
      expect(audit).toHaveLength(1);
      expect(audit[0].actor_label).toBe('test');
      expect(audit[0].details.counts.user).toEqual({ create: 7 });
    }));

  it('a second import, hours later, reports no changes and leaves the database exactly as it was', () =>
    withDb(async ({ db }) => {
      const clock = new FixedClock(T0);
      await runOk(db, contoso(), clock);
      const before = await snapshot(db);
      clock.advance({ hours: 5 });
      const again = await runOk(db, contoso(), clock);
      expect(again.plan.changes).toEqual([]);
      expect(again.applied).toBe(false);
      expect(renderPlan(again.plan)).toContain('No changes');
      expect(await snapshot(db)).toEqual(before);
    }));

  it('a dry run changes nothing and returns the plan', () =>
    withDb(async ({ db }) => {
      const clock = new FixedClock(T0);
      const empty = await snapshot(db);
      const dry = await runOk(db, contoso(), clock, true);
      expect(dry.applied).toBe(false);
      expect(dry.plan.dryRun).toBe(true);
      expect(dry.plan.counts.accessPackage.create).toBe(7);
      const text = renderPlan(dry.plan);
      expect(text).toContain('Dry run for directory contoso.com (Contoso): nothing was changed.');
      expect(text).toContain('create user avery.admin@contoso.com');
      expect(text).toContain('create assignment lee.lead@contoso.com → Production database (read only)');
      expect(await snapshot(db)).toEqual(empty);

      await runOk(db, contoso(), clock);
      const imported = await snapshot(db);
      const edited = contoso();
      edited.users[1].displayName = 'Mona M.';
      const dryEdit = await runOk(db, edited, clock, true);
      expect(changeList(dryEdit.plan)).toEqual(['user | update | mona.manager@contoso.com | displayName']);
      expect(await snapshot(db)).toEqual(imported);
    }));

  it('an edited file updates exactly what changed', () =>
    withDb(async ({ db }) => {
      const clock = new FixedClock(T0);
      await runOk(db, contoso(), clock);
      const edited = contoso();
      edited.users[2].displayName = 'René R.';
      edited.users.push({ email: 'New.Person@contoso.com', displayName: 'New Person', password: 'another-password' });
      edited.groups[1].members.push('rene.requestor@contoso.com');
      edited.catalogs[2].description = 'Tools for customers.';
      const buildPolicy = edited.catalogs[0].accessPackages[0].policies[0];
      buildPolicy.expiration = { afterDays: 90 };
      buildPolicy.questions[0].text = 'Which ticket?';
      edited.catalogs[0].accessPackages[1].policies[0].approval.stages[0].timeoutDays = 10;
      clock.advance({ hours: 2 });
      const result = await runOk(db, edited, clock);
      expect(changeList(result.plan)).toEqual([
        'user | create | new.person@contoso.com',
        'user | update | rene.requestor@contoso.com | displayName',
        'group | update | sales | members',
        'catalog | update | Sales | description',
        'policy | update | Build infrastructure / Engineering: 60 days with approval | questions, expiration',
        'policy | update | Production database (read only) / Members: two-stage approval | approval',
      ]);
      expect((await db('users').where({ email: 'rene.requestor@contoso.com' }).first()).display_name).toBe('René R.');
      expect((await db('policies').where({ name: 'Engineering: 60 days with approval' }).first()).expiration_days).toBe(90);
      const stage = await db('policy_stages as s').join('policies as p', 'p.id', 's.policy_id').where({ 'p.name': 'Members: two-stage approval', 's.position': 1 }).first('s.*');
      expect(stage.timeout_days).toBe(10);
      expect(await count(db, 'policy_stage_approvers')).toBe(9);

      const before = await snapshot(db);
      clock.advance({ hours: 2 });
      expect((await runOk(db, edited, clock)).plan.changes).toEqual([]);
      expect(await snapshot(db)).toEqual(before);
    }));

  it('resolves a changed relative date against the new import, and keeps unchanged ones', () =>
    withDb(async ({ db }) => {
      const clock = new FixedClock(T0);
      await runOk(db, contoso(), clock);
      const edited = contoso();
      edited.users[1].lastSignIn = 'now-3d';
      clock.advance({ days: 1 });
      const result = await runOk(db, edited, clock);
      expect(changeList(result.plan)).toEqual(['user | update | mona.manager@contoso.com | lastSignIn']);
      const mona = await db('users').where({ email: 'mona.manager@contoso.com' }).first();
      expect(new Date(mona.last_sign_in_at).toISOString()).toBe('2026-11-22T10:00:00.000Z'); // T0 + 1d - 3d
      const rene = await db('users').where({ email: 'rene.requestor@contoso.com' }).first();
      expect(new Date(rene.last_sign_in_at).toISOString()).toBe('2026-11-22T10:00:00.000Z'); // T0 - 2d, from the first import
      // Both imports' moments explain the stored values: a third import changes nothing.
      clock.advance({ days: 1 });
      expect((await runOk(db, edited, clock)).plan.changes).toEqual([]);
    }));

  it('removes what is missing from the file, but disables a user who has history', () =>
    withDb(async ({ db }) => {
      const clock = new FixedClock(T0);
      await runOk(db, contoso(), clock);
      const edited = contoso();
      // Sam leaves: out of the users, the sales group (now empty, removed) and the assignments.
      edited.users = edited.users.filter((u: any) => !['sam.sales@contoso.com', 'avery.admin@contoso.com'].includes(u.email));
      edited.groups = edited.groups.filter((g: any) => g.key !== 'sales');
      edited.assignments = edited.assignments.filter((a: any) => a.user !== 'sam.sales@contoso.com');
      edited.accessReviews[2].reviewers.fallback = ['ola.owner@contoso.com'];
      // The legacy archive was never assigned: it can go.
      edited.catalogs[2].accessPackages = edited.catalogs[2].accessPackages.filter((p: any) => p.id !== LEGACY_CRM);
      clock.advance({ hours: 1 });
      const result = await runOk(db, edited, clock);
      expect(changeList(result.plan)).toEqual([
        'user | remove | avery.admin@contoso.com',
        'user | disable | sam.sales@contoso.com',
        'group | remove | sales',
        `accessPackage | remove | Legacy CRM archive (${LEGACY_CRM})`,
        'policy | remove | Legacy CRM archive / Administrator assignment only',
        'assignment | end | sam.sales@contoso.com → CRM editor',
        'accessReview | update | All Engineering membership | reviewers',
      ]);
      const now = clock.now().toISOString();
      expect(await db('users').where({ email: 'avery.admin@contoso.com' }).first()).toBeUndefined();
      const sam = await db('users').where({ email: 'sam.sales@contoso.com' }).first();
      expect(new Date(sam.disabled_at).toISOString()).toBe(now);
      const ended = await db('assignments').where({ user_id: sam.id }).first();
      expect(ended).toMatchObject({ state: 'expired', end_reason: 'import', origin: 'import' });
      expect(new Date(ended.ended_at).toISOString()).toBe(now);
      const grants = await db('assignment_grants').where({ assignment_id: ended.id });
      expect(grants.map((g) => new Date(g.revoked_at).toISOString())).toEqual([now]);
      expect(await db('access_packages').where({ id: LEGACY_CRM }).first()).toBeUndefined();
      expect(await db('groups').where({ key: 'sales' }).first()).toBeUndefined();

      // Importing the same edited file again: nothing to do.
      expect((await runOk(db, edited, clock)).plan.changes).toEqual([]);

      // Sam comes back: enabled again, and the access is given back as a new assignment.
      clock.advance({ hours: 1 });
      const back = await runOk(db, contoso(), clock);
      expect(changeList(back.plan)).toEqual(
        expect.arrayContaining(['user | update | sam.sales@contoso.com | enabled', 'assignment | create | sam.sales@contoso.com → CRM editor']),
      );
      expect((await db('users').where({ email: 'sam.sales@contoso.com' }).first()).disabled_at).toBeNull();
      expect(await count(db, 'assignments', { user_id: sam.id, state: 'delivered' })).toBe(1);
    }));

  it('refuses to remove an access package that has assignments, and changes nothing', () =>
    withDb(async ({ db }) => {
      const clock = new FixedClock(T0);
      await runOk(db, contoso(), clock);
      const before = await snapshot(db);
      const edited = contoso();
      edited.catalogs[1].accessPackages = edited.catalogs[1].accessPackages.filter((p: any) => p.id !== PAYMENTS_SUBMIT);
      edited.catalogs[1].accessPackages[0].incompatibleWith = [];
      edited.assignments = edited.assignments.filter((a: any) => a.accessPackage !== PAYMENTS_SUBMIT);
      edited.accessReviews = edited.accessReviews.filter((r: any) => r.scope.accessPackage !== PAYMENTS_SUBMIT);
      const result = await run(db, edited, clock);
      expect(result).toEqual({
        ok: false,
        problems: [
          {
            path: 'catalogs[1].accessPackages',
            message: `access package "Payments: submit" (${PAYMENTS_SUBMIT}) is not in the file but has 1 assignment, so it cannot be removed: keep it in the file (to stop new requests, set "acceptRequests": false on its policies)`,
          },
        ],
      });
      expect(await snapshot(db)).toEqual(before);

      // A policy of a kept package is protected the same way.
      const renamed = contoso();
      renamed.catalogs[1].accessPackages[0].policies[0].name = 'Members: director approval';
      renamed.assignments[0].policy = 'Members: director approval';
      const refused = await run(db, renamed, clock);
      expect(refused.ok ? [] : refused.problems.map((p) => p.path)).toEqual(['catalogs[1].accessPackages[0].policies']);
      expect(await snapshot(db)).toEqual(before);
    }));

  it('a file with problems changes nothing and returns all of them', () =>
    withDb(async ({ db }) => {
      const clock = new FixedClock(T0);
      await runOk(db, contoso(), clock);
      const before = await snapshot(db);
      const bad = contoso();
      bad.users[2].manager = 'nobody@contoso.com';
      bad.groups[0].members.push('ghost@contoso.com');
      bad.catalogs[0].accessPackages[1].policies[0].approval.stages[1].escalation.afterDays = 7;
      bad.assignments[0].policy = 'No such policy';
      const result = await run(db, bad, clock);
      expect(result.ok).toBe(false);
      expect(result.ok ? [] : result.problems).toEqual([
        { path: 'users[2].manager', message: 'unknown user nobody@contoso.com' },
        { path: 'groups[0].members[3]', message: 'unknown user ghost@contoso.com' },
        { path: 'catalogs[0].accessPackages[1].policies[0].approval.stages[1].escalation.afterDays', message: "must be less than the stage's timeoutDays (7)" },
        { path: 'assignments[0].policy', message: `access package ${PAYMENTS_SUBMIT} has no policy named No such policy` },
      ]);
      expect(await snapshot(db)).toEqual(before);
    }));

  it('export → import into an empty database → export gives the same file', async () => {
    const first = await createTestDatabase();
    const second = await createTestDatabase();
    try {
      const clock = new FixedClock(T0);
      await runOk(first.db, contoso(), clock);
      const exported = await exportDirectory(first.db, 'contoso.com');
      expect(exported).not.toBeNull();
      expect(await exportDirectory(first.db, 'nowhere.example')).toBeNull();
      // The export is itself a valid file, and matches the database it came from.
      const reimport = await runOk(first.db, exported, clock);
      expect(reimport.plan.changes).toEqual([]);

      clock.advance({ days: 3 });
      await runOk(second.db, JSON.parse(JSON.stringify(exported)), clock);
      expect(await exportDirectory(second.db, 'contoso.com')).toEqual(exported);
      expect(exported!.users!.every((u) => u.passwordHash && !u.password)).toBe(true);
      expect(exported!.assignments).toHaveLength(4);
      expect(exported!.accessReviews).toHaveLength(3);
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('stores only password hashes, keeps a hash while the password is the same, and rehashes a changed one', () =>
    withDb(async ({ db }) => {
      const clock = new FixedClock(T0);
      await runOk(db, contoso(), clock);
      const dump = JSON.stringify(await snapshot(db));
      expect(dump).not.toContain('correct-horse-battery');
      const users = await db('users').select('email', 'password_hash');
      expect(users.every((u) => isPasswordHash(u.password_hash))).toBe(true);
      const gia = users.find((u) => u.email === 'gia.guest@fabrikam.com')!;
      expect(await verifyPassword('correct-horse-battery', gia.password_hash)).toBe(true);

      const edited = contoso();
      edited.users[6].password = 'a-new-password';
      const result = await runOk(db, edited, clock);
      expect(changeList(result.plan)).toEqual(['user | update | gia.guest@fabrikam.com | password']);
      const after = await db('users').where({ email: 'gia.guest@fabrikam.com' }).first();
      expect(await verifyPassword('a-new-password', after.password_hash)).toBe(true);
      expect(JSON.stringify(await snapshot(db))).not.toContain('a-new-password');
    }));

  it('never touches assignments made in the portal', () =>
    withDb(async ({ db }) => {
      const clock = new FixedClock(T0);
      await runOk(db, contoso(), clock);
      const mona = await db('users').where({ email: 'mona.manager@contoso.com' }).first();
      const policy = await db('policies').where({ access_package_id: BOARD_PORTAL }).first();
      const dirId = (await db('directories').first()).id;
      await db('assignments').insert({
        directory_id: dirId,
        access_package_id: BOARD_PORTAL,
        policy_id: policy.id,
        user_id: mona.id,
        origin: 'request',
        state: 'delivered',
        starts_at: clock.now(),
      });
      // A portal assignment for the same user and package as an entry of the file is that entry.
      const lee = await db('users').where({ email: 'lee.lead@contoso.com' }).first();
      await db('assignments').where({ user_id: lee.id }).update({ origin: 'admin' });

      const edited = contoso();
      edited.assignments = edited.assignments.filter((a: any) => a.user !== 'lee.lead@contoso.com');
      const result = await runOk(db, edited, clock);
      expect(result.plan.changes).toEqual([]);
      expect(await count(db, 'assignments', { user_id: mona.id, state: 'delivered' })).toBe(1);
      expect(await count(db, 'assignments', { user_id: lee.id, state: 'delivered' })).toBe(1);
      expect((await runOk(db, contoso(), clock)).plan.changes).toEqual([]);
      expect(await count(db, 'assignments', { user_id: lee.id })).toBe(1);
    }));

  it('two imports of one directory at the same time run one after the other', () =>
    withDb(async ({ db }) => {
      const clock = new FixedClock(T0);
      const [a, b] = await Promise.all([runOk(db, contoso(), clock), runOk(db, contoso(), clock)]);
      expect([a.plan.changes.length > 0, b.plan.changes.length > 0].sort()).toEqual([false, true]);
      expect(await count(db, 'users')).toBe(7);
      expect(await count(db, 'assignments')).toBe(4);
    }));
});

describe('an OpenID Connect directory', () => {
  it('keeps its sign-in settings and users without passwords through import and export', () =>
    withDb(async ({ db }) => {
      const clock = new FixedClock(T0);
      const file = {
        directory: { hint: 'oidc.example', name: 'OIDC Example', signIn: { oidc: { issuer: 'https://idp.oidc.example', clientId: 'portico', clientSecretEnv: 'OIDC_CLIENT_SECRET' } } },
        users: [{ email: 'Pat@OIDC.example', displayName: 'Pat' }],
      };
      await runOk(db, file, clock);
      const [dir] = await db('directories').select('sign_in');
      expect(dir.sign_in).toEqual(file.directory.signIn);
      expect((await db('users').first()).password_hash).toBeNull();
      const exported = await exportDirectory(db, 'oidc.example');
      expect(exported).toEqual({
        directory: file.directory,
        users: [{ email: 'pat@oidc.example', displayName: 'Pat', type: 'member' }],
        groups: [],
        catalogs: [],
        assignments: [],
        accessReviews: [],
      });
      expect((await runOk(db, exported, clock)).plan.changes).toEqual([]);
    }));
});

describe('the demo directory', () => {
  it('imports cleanly, twice without changes, and round-trips through export', async () => {
    const first = await createTestDatabase();
    const second = await createTestDatabase();
    try {
      const clock = new FixedClock(T0);
      const result = await runOk(first.db, readJson(DEMO_FILE), clock);
      expect(result.plan.hint).toBe('northwind.example');
      expect(await count(first.db, 'users')).toBe(12);
      expect(await count(first.db, 'access_packages')).toBe(9);
      expect(await count(first.db, 'assignments', { state: 'delivered' })).toBe(8);
      expect(await count(first.db, 'access_reviews')).toBe(4);
      const hashes = await first.db('users').pluck('password_hash');
      expect(await verifyPassword('portico-demo-password', hashes[0])).toBe(true);

      clock.advance({ hours: 3 });
      expect((await runOk(first.db, readJson(DEMO_FILE), clock)).plan.changes).toEqual([]);

      const exported = await exportDirectory(first.db, 'northwind.example');
      await runOk(second.db, JSON.parse(JSON.stringify(exported)), clock);
      expect(await exportDirectory(second.db, 'northwind.example')).toEqual(exported);
    } finally {
      await first.close();
      await second.close();
    }
  });
});
