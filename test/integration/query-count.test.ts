import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/connect.ts';
import { createTestDatabase } from '../support/db.ts';
import { createTestApp, csrfFrom, seedDirectory, signIn, type Agent, type TestApp } from '../support/app.ts';
import { fabrikam, PKG, USER, type FixtureFile } from '../support/fixtures.ts';
import { policyId, requestId } from '../support/flows.ts';

// A page's number of queries must not grow with the data: the main pages are counted with 5 rows
// of everything, then with 50 (more than a page), and must send exactly as many queries.
// No timings here: `npm run bench` measures.

let database: Database;
let t: TestApp;
let db: Database['db'];

const extraId = (k: number) => `eeeeeeee-0000-4000-8000-${String(k).padStart(12, '0')}`;

/** The fixture with `n` more packages that any member may request, each approved by Apu. */
function withExtraPackages(n: number): FixtureFile {
  const file = fabrikam();
  const general = file.catalogs[0];
  for (let k = 0; k < n; k++) {
    general.accessPackages.push({
      id: extraId(k),
      name: `Extra tool ${String(k).padStart(2, '0')}`,
      description: 'One more tool.',
      resourceRoles: [{ resource: 'wiki', role: 'Reader' }],
      policies: [{ name: 'Members', requestors: { scope: 'allMembers' }, approval: { stages: [{ approvers: [{ type: 'user', email: USER.approver }], timeoutDays: 14 }] }, expiration: { afterDays: 30 } }],
    });
  }
  return file;
}

/** Rita requests the extra packages from `from` up to `to`; Apu has them all to approve. */
async function requestExtras(rita: Agent, from: number, to: number): Promise<string> {
  let last = '';
  for (let k = from; k < to; k++) last = await requestId(rita, extraId(k), await policyId(db, extraId(k), 'Members'), {});
  return last;
}

/** How many queries one GET of the page sends (after a first GET, so the session is settled). */
async function queriesFor(agent: Agent, path: string, headers: Record<string, string> = {}): Promise<number> {
  expect((await agent.get(path).set(headers)).status, path).toBe(200);
  let n = 0;
  const count = () => n++;
  db.on('query', count);
  try {
    const res = await agent.get(path).set(headers);
    expect(res.status, path).toBe(200);
  } finally {
    db.removeListener('query', count);
  }
  return n;
}

/** The statements one request sends (BEGIN and COMMIT included), with its response. */
async function statementsOf(send: () => PromiseLike<{ status: number }>): Promise<{ status: number; statements: number }> {
  let n = 0;
  const count = () => n++;
  db.on('query', count);
  try {
    const res = await send();
    return { status: res.status, statements: n };
  } finally {
    db.removeListener('query', count);
  }
}

async function countAll(rita: Agent, apu: Agent, latest: string): Promise<Record<string, number>> {
  const pane = { 'HX-Request': 'true', 'HX-Target': 'pane' };
  return {
    overview: await queriesFor(rita, '/'),
    available: await queriesFor(rita, '/access-packages'),
    search: await queriesFor(rita, '/access-packages?q=extra'),
    searchResources: await queriesFor(rita, '/access-packages?q=wiki&field=resources'),
    searchShort: await queriesFor(rita, '/access-packages?q=ex'),
    active: await queriesFor(rita, '/access-packages/active'),
    history: await queriesFor(rita, '/requests'),
    requestPane: await queriesFor(rita, `/requests/${latest}`, pane),
    approvals: await queriesFor(apu, '/approvals'),
    approvalPane: await queriesFor(apu, `/approvals/${latest}`, pane),
    overviewApprover: await queriesFor(apu, '/'),
    reviews: await queriesFor(rita, '/access-reviews'),
  };
}

beforeAll(async () => {
  database = await createTestDatabase();
  db = database.db;
  t = createTestApp(database);
});
afterAll(async () => {
  await database.close();
});

describe('queries per page', () => {
  it('stay the same with 5 rows and with 50', async () => {
    await seedDirectory(database, withExtraPackages(5), t.clock);
    const rita = await signIn(t.app, USER.requestor);
    const apu = await signIn(t.app, USER.approver);
    let latest = await requestExtras(rita, 0, 5);
    const few = await countAll(rita, apu, latest);
    expect((await rita.get('/requests')).text.match(/href="\/requests\/[0-9a-f-]{36}"/g)?.length).toBe(5);

    await seedDirectory(database, withExtraPackages(50), t.clock);
    latest = await requestExtras(rita, 5, 50);
    const many = await countAll(rita, apu, latest);
    // The pages really show more: a full page of history, and more to come.
    expect((await rita.get('/requests')).text.match(/href="\/requests\/[0-9a-f-]{36}"/g)?.length).toBe(20);
    expect((await apu.get('/approvals')).text).toContain('Next');

    expect(many).toEqual(few);
    // And the numbers are small: the session with its person, and the page's own. Each round trip
    // costs Node about 0.15 ms: a page that sends more should be made to on purpose.
    expect(many).toEqual({
      overview: 2,
      available: 2,
      search: 2,
      searchResources: 2,
      searchShort: 2,
      active: 3,
      history: 2,
      requestPane: 3,
      approvals: 2,
      approvalPane: 4,
      overviewApprover: 2,
      reviews: 2,
    });
  });

  it('submits a request delivered at once, and approves one, in a known number of statements', async () => {
    const rita = await signIn(t.app, USER.requestor);
    const apu = await signIn(t.app, USER.approver);
    await db('assignments').where({ access_package_id: PKG.repo }).delete();
    await db('requests').where({ access_package_id: PKG.repo }).delete();
    const form = await rita.get(`/access-packages/${PKG.repo}/request?policy=${await policyId(db, PKG.repo, 'Members')}`);
    const submit = await statementsOf(() =>
      rita.post(`/access-packages/${PKG.repo}/request`).type('form').send({
        _csrf: csrfFrom(form.text),
        policy: /name="policy" value="([^"]+)"/.exec(form.text)![1],
        policyVersion: /name="policyVersion" value="([^"]+)"/.exec(form.text)![1],
        submissionKey: /name="submissionKey" value="([^"]+)"/.exec(form.text)![1],
      }),
    );
    expect(submit.status).toBe(303);
    expect(await db('assignments').where({ access_package_id: PKG.repo, state: 'delivered' }).count({ n: '*' })).toEqual([{ n: 1 }]);

    const waiting = (await db('requests').where({ access_package_id: extraId(0), state: 'pendingApproval' }).first('id')).id;
    const pane = await apu.get(`/approvals/${waiting}`);
    const approve = await statementsOf(() => apu.post(`/approvals/${waiting}`).type('form').send({ _csrf: csrfFrom(pane.text), stage: '1', decision: 'approve', justification: '' }));
    expect(approve.status).toBe(303);
    expect((await db('requests').where({ id: waiting }).first('state')).state).toBe('delivered');
    // On 24 November 2026 they were 32 and 31; on the 25th 23 and 24, before a submit's checks, an
    // approver's stage, and the request delivery reads, were fewer statements.
    expect({ submit: submit.statements, approve: approve.statements }).toEqual({ submit: 18, approve: 22 });
  });

  it('shows Available a page at a time, each page with the same count, every package once', async () => {
    const rita = await signIn(t.app, USER.requestor);
    const seen: string[] = [];
    const counts: string[] = [];
    let path: string | undefined = '/access-packages';
    while (path) {
      const html: string = (await rita.get(path)).text;
      counts.push(/([\w ]+) access packages? (?:is|are) available to you\./.exec(html)![1].trim());
      const rows = [...html.matchAll(/<a href="\/access-packages\/([0-9a-f-]{36})" hx-get/g)].map((m) => m[1]);
      expect(rows.length).toBeLessThanOrEqual(20);
      seen.push(...rows);
      path = /<a href="([^"]+)"[^>]* rel="next">Next page<\/a>/.exec(html)?.[1].replaceAll('&amp;', '&');
    }
    expect(counts.length).toBeGreaterThan(2);
    expect(new Set(counts)).toEqual(new Set([String(seen.length)]));
    expect(new Set(seen).size).toBe(seen.length);
  });
});
