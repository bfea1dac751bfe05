import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import supertest from 'supertest';
import type { Database } from '../../src/db/connect.ts';
import { createTestDatabase } from '../support/db.ts';
import { createTestApp, csrfFrom, seedDirectory, signIn, type Agent, type TestApp } from '../support/app.ts';
import { fabrikam, PKG, USER, withOtherPackageIds } from '../support/fixtures.ts';
import { policyId, requestId } from '../support/flows.ts';

/**
 * Who may see and do what: every route, for every kind of person, with the status they get.
 * Other people's objects answer 404 (not 403), so their existence is not revealed.
 */
type Person = 'anonymous' | 'requestor' | 'otherRequestor' | 'approver' | 'catalogOwner' | 'admin' | 'otherDirectory';
const PEOPLE: Person[] = ['anonymous', 'requestor', 'otherRequestor', 'approver', 'catalogOwner', 'admin', 'otherDirectory'];

interface Row {
  method: 'GET' | 'POST';
  path: string;
  /** Expected status per person; `skip` for the one person whose POST would change the shared data. */
  expect: Partial<Record<Person, number | 'skip'>> & { default: number };
}

let database: Database;
let t: TestApp;
const agents = new Map<Person, Agent>();
const tokens = new Map<Person, string>();
let request: string;
/** Administration objects: a person, a group, an assignment in General (owned by Max) and one in Archive (no owner). */
const admin = { user: '', group: '', assignment: '', archivedAssignment: '' };
/** Access review pages: one review per kind of scope, and its active instance. */
const reviews: Record<string, string> = {};

beforeAll(async () => {
  database = await createTestDatabase();
  t = createTestApp(database);
  await seedDirectory(database, fabrikam(), t.clock);
  await seedDirectory(database, withOtherPackageIds(fabrikam({ hint: 'other.test', name: 'Other Directory' }), 'd9'), t.clock);
  const emails: Record<Exclude<Person, 'anonymous'>, [string, string]> = {
    requestor: [USER.requestor, 'Fabrikam'],
    otherRequestor: [USER.other, 'Fabrikam'],
    approver: [USER.approver, 'Fabrikam'],
    catalogOwner: [USER.manager, 'Fabrikam'],
    admin: [USER.admin, 'Fabrikam'],
    otherDirectory: [USER.noManager, 'Other Directory'],
  };
  for (const [person, [email, directory]] of Object.entries(emails)) agents.set(person as Person, await signIn(t.app, email, { directory }));
  agents.set('anonymous', supertest.agent(t.app));
  for (const [person, agent] of agents) tokens.set(person, csrfFrom((await agent.get(person === 'anonymous' ? '/sign-in' : '/')).text));
  // Rita's request for Billing: submit, which Apu approves.
  request = await requestId(agents.get('requestor')!, PKG.billingSubmit, await policyId(database.db, PKG.billingSubmit, 'Members'), {});
  const dir = (await database.db('directories').where({ hint: 'fabrikam.test' }).first('id')).id;
  const otto = (await database.db('users').where({ directory_id: dir, email: USER.other }).first('id')).id;
  admin.user = otto;
  admin.group = (await database.db('groups').where({ directory_id: dir, key: 'staff' }).first('id')).id;
  for (const [pkg, key] of [[PKG.repo, 'assignment'], [PKG.archived, 'archivedAssignment']] as const) {
    const [row] = await database.db('assignments')
      .insert({ directory_id: dir, access_package_id: pkg, policy_id: await policyId(database.db, pkg, 'Members'), user_id: otto, origin: 'import', state: 'delivered', starts_at: t.clock.now() })
      .returning('id');
    admin[key] = row.id;
  }
  // Access reviews, each with an active instance: of the Staff group (administrators'), of Wiki editors (General, Max's) and of Old system (Archive).
  const reviewScopes = { group: { scope_type: 'group', scope_group_id: admin.group }, general: { scope_type: 'accessPackage', scope_access_package_id: PKG.wiki }, archived: { scope_type: 'accessPackage', scope_access_package_id: PKG.archived } };
  for (const [key, scope] of Object.entries(reviewScopes) as [keyof typeof reviewScopes, (typeof reviewScopes)[keyof typeof reviewScopes]][]) {
    const [review] = await database.db('access_reviews')
      .insert({ directory_id: dir, name: `Review ${key}`, ...scope, reviewer_type: 'self', starts_on: new Date('2027-06-01T00:00:00Z'), duration_days: 7, recurrence: 'once', if_no_response: 'noChange' })
      .returning('id');
    const [instance] = await database.db('access_review_instances')
      .insert({ access_review_id: review.id, ...scope, reviewer_type: 'self', if_no_response: 'noChange', auto_apply: false, require_justification: false, show_recommendations: false, starts_at: t.clock.now(), ends_at: new Date('2027-06-01T00:00:00Z'), state: 'active' })
      .returning('id');
    reviews[key] = `/admin/access-reviews/${review.id}`;
    reviews[`${key}Instance`] = `/admin/access-reviews/${review.id}/instances/${instance.id}`;
  }
});
afterAll(async () => {
  await database.close();
});

function rows(): Row[] {
  const signedIn = { anonymous: 303, default: 200 };
  return [
    { method: 'GET', path: '/', expect: signedIn },
    { method: 'GET', path: '/access-packages', expect: signedIn },
    { method: 'GET', path: '/access-packages/active', expect: signedIn },
    { method: 'GET', path: '/access-packages/expired', expect: signedIn },
    { method: 'GET', path: `/access-packages/${PKG.wiki}`, expect: { anonymous: 303, approver: 404, otherDirectory: 404, default: 200 } },
    { method: 'GET', path: `/access-packages/${PKG.wiki}/request`, expect: { anonymous: 303, approver: 404, otherDirectory: 404, default: 200 } },
    { method: 'GET', path: `/access-packages/${PKG.adminOnly}`, expect: { anonymous: 303, catalogOwner: 200, admin: 200, default: 404 } },
    { method: 'POST', path: `/access-packages/${PKG.adminOnly}/request`, expect: { anonymous: 303, default: 404 } },
    { method: 'GET', path: '/requests', expect: signedIn },
    { method: 'GET', path: `/requests/${request}`, expect: { anonymous: 303, requestor: 200, default: 404 } },
    { method: 'GET', path: `/requests/${request}/submitted`, expect: { anonymous: 303, requestor: 200, default: 404 } },
    { method: 'GET', path: `/requests/${request}/cancel`, expect: { anonymous: 303, requestor: 200, default: 404 } },
    { method: 'POST', path: `/requests/${request}/cancel`, expect: { anonymous: 303, requestor: 'skip', default: 404 } },
    { method: 'GET', path: '/approvals', expect: signedIn },
    { method: 'GET', path: '/approvals/history', expect: signedIn },
    { method: 'GET', path: `/approvals/${request}`, expect: { anonymous: 303, approver: 200, default: 404 } },
    { method: 'POST', path: `/approvals/${request}`, expect: { anonymous: 303, approver: 'skip', default: 404 } },
    // Administration: assignments and requests for administrators and the owners of the catalog; the rest for administrators.
    ...(() => {
      const owners = { anonymous: 303, catalogOwner: 200, admin: 200, default: 404 };
      const admins = { anonymous: 303, admin: 200, default: 404 };
      const assignments = `/admin/access-packages/${PKG.wiki}/assignments`;
      const archived = `/admin/access-packages/${PKG.archived}/assignments`;
      const removal = `/admin/access-packages/${PKG.repo}/assignments/${admin.assignment}/remove`;
      const archivedRemoval = `${archived}/${admin.archivedAssignment}/remove`;
      const rows: Row[] = [
        { method: 'GET', path: assignments, expect: owners },
        { method: 'GET', path: `${assignments}/new`, expect: owners },
        { method: 'POST', path: assignments, expect: { anonymous: 303, catalogOwner: 422, admin: 422, default: 404 } },
        { method: 'GET', path: archived, expect: admins },
        { method: 'GET', path: `${archived}/new`, expect: admins },
        { method: 'POST', path: archived, expect: { anonymous: 303, admin: 422, default: 404 } },
        { method: 'GET', path: removal, expect: owners },
        { method: 'POST', path: removal, expect: { anonymous: 303, catalogOwner: 'skip', admin: 'skip', default: 404 } },
        { method: 'GET', path: archivedRemoval, expect: admins },
        { method: 'POST', path: archivedRemoval, expect: { anonymous: 303, admin: 'skip', default: 404 } },
        { method: 'GET', path: '/admin/requests', expect: owners },
        { method: 'GET', path: `/admin/requests/${request}`, expect: owners },
        { method: 'GET', path: `/admin/requests/${request}/cancel`, expect: owners },
        { method: 'POST', path: `/admin/requests/${request}/cancel`, expect: { anonymous: 303, catalogOwner: 422, admin: 422, default: 404 } },
        { method: 'GET', path: '/admin/users', expect: admins },
        { method: 'GET', path: `/admin/users/${admin.user}`, expect: admins },
        { method: 'POST', path: `/admin/users/${admin.user}/unlink-sso`, expect: { anonymous: 303, admin: 303, default: 404 } },
        { method: 'GET', path: '/admin/groups', expect: admins },
        { method: 'GET', path: `/admin/groups/${admin.group}`, expect: admins },
        { method: 'GET', path: '/admin/audit', expect: admins },
        { method: 'GET', path: '/admin/audit.csv', expect: admins },
        { method: 'GET', path: '/admin/import', expect: admins },
        { method: 'POST', path: '/admin/import', expect: { anonymous: 303, admin: 422, default: 404 } },
        { method: 'POST', path: '/admin/import/apply', expect: { anonymous: 303, admin: 422, default: 404 } },
        { method: 'GET', path: '/admin/export', expect: admins },
        // Access reviews: of packages and resources for the catalog's owners too; of groups for administrators.
        { method: 'GET', path: '/admin/access-reviews', expect: owners },
        { method: 'GET', path: '/admin/access-reviews/new', expect: owners },
        { method: 'POST', path: '/admin/access-reviews/new', expect: { anonymous: 303, catalogOwner: 422, admin: 422, default: 404 } },
        ...(['general', 'group', 'archived'] as const).flatMap((key): Row[] => {
          const who = key === 'general' ? owners : admins;
          const refused = (status: number | 'skip') => (key === 'general' ? { anonymous: 303, catalogOwner: status, admin: status, default: 404 } : { anonymous: 303, admin: status, default: 404 });
          return [
            { method: 'GET', path: reviews[key], expect: who },
            { method: 'POST', path: reviews[key], expect: refused(422) },
            { method: 'GET', path: `${reviews[key]}/remove`, expect: who },
            { method: 'POST', path: `${reviews[key]}/remove`, expect: refused('skip') },
            { method: 'POST', path: `${reviews[key]}/start`, expect: refused(409) },
            { method: 'GET', path: `${reviews[`${key}Instance`]}/stop`, expect: who },
            { method: 'POST', path: `${reviews[`${key}Instance`]}/stop`, expect: refused('skip') },
            { method: 'GET', path: `${reviews[`${key}Instance`]}/apply`, expect: who },
            { method: 'POST', path: `${reviews[`${key}Instance`]}/apply`, expect: refused(409) },
            { method: 'GET', path: `${reviews[`${key}Instance`]}/results.csv`, expect: who },
          ];
        }),
      ];
      return rows;
    })(),
    { method: 'GET', path: '/no-such-page', expect: { anonymous: 303, default: 404 } },
  ];
}

describe('authorization matrix', () => {
  it('gives every person the expected status on every route, and changes nothing it refuses', async () => {
    const failures: string[] = [];
    for (const row of rows()) {
      for (const person of PEOPLE) {
        const expected = row.expect[person] ?? row.expect.default;
        if (expected === 'skip') continue;
        const agent = agents.get(person)!;
        const res =
          row.method === 'GET'
            ? await agent.get(row.path)
            : await agent.post(row.path).type('form').send({ _csrf: tokens.get(person), stage: '1', decision: 'approve', policy: 'x' });
        if (res.status !== expected) failures.push(`${row.method} ${row.path} as ${person}: ${res.status}, expected ${expected}`);
      }
    }
    expect(failures).toEqual([]);
    expect((await database.db('requests').where({ id: request }).first('state')).state).toBe('pendingApproval');
    expect(await database.db('requests').count('* as n')).toEqual([{ n: 1 }]);
    expect(await database.db('assignments').whereIn('id', [admin.assignment, admin.archivedAssignment]).pluck('state')).toEqual(['delivered', 'delivered']);
    expect(await database.db('access_review_instances').pluck('state')).toEqual(['active', 'active', 'active']);
    expect(await database.db('access_reviews').count('* as n')).toEqual([{ n: 3 }]);
  });

  it('lets the owner and the approver do what the matrix skipped', async () => {
    const approver = agents.get('approver')!;
    const res = await approver.post(`/approvals/${request}`).type('form').send({ _csrf: tokens.get('approver'), stage: '1', decision: 'approve' });
    expect(res.status).toBe(303);
    expect((await database.db('requests').where({ id: request }).first('state')).state).toBe('delivered');
  });

  it('lets the catalog owner and the administrator remove what the matrix skipped', async () => {
    const owner = await agents.get('catalogOwner')!.post(`/admin/access-packages/${PKG.repo}/assignments/${admin.assignment}/remove`).type('form').send({ _csrf: tokens.get('catalogOwner') });
    expect(owner.status).toBe(303);
    const administrator = await agents.get('admin')!.post(`/admin/access-packages/${PKG.archived}/assignments/${admin.archivedAssignment}/remove`).type('form').send({ _csrf: tokens.get('admin') });
    expect(administrator.status).toBe(303);
    expect(await database.db('assignments').whereIn('id', [admin.assignment, admin.archivedAssignment]).pluck('state')).toEqual(['expired', 'expired']);
  });
});
