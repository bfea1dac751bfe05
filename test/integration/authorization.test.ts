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
  });

  it('lets the owner and the approver do what the matrix skipped', async () => {
    const approver = agents.get('approver')!;
    const res = await approver.post(`/approvals/${request}`).type('form').send({ _csrf: tokens.get('approver'), stage: '1', decision: 'approve' });
    expect(res.status).toBe(303);
    expect((await database.db('requests').where({ id: request }).first('state')).state).toBe('delivered');
  });
});
