import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import supertest from 'supertest';
import type { Database } from '../../src/db/connect.ts';
import { createTestDatabase } from '../support/db.ts';
import { createTestApp, csrfFrom, seedDirectory, signIn, type Agent, type TestApp } from '../support/app.ts';
import { fabrikam, PKG, USER } from '../support/fixtures.ts';
import { decide, policyId, requestId, validWiki } from '../support/flows.ts';

/**
 * Every route of the app, found in its router, driven with hostile values: missing and duplicated
 * fields, arrays and objects, __proto__ keys, overlong and binary strings, invalid UTF-8, bad ids and
 * dates, huge bodies, wrong content types, unknown methods. Never a 5xx, never a changed row.
 */
interface Route {
  method: string;
  path: string;
}

function collectRoutes(stack: unknown[], found: Route[] = []): Route[] {
  for (const layer of stack as { route?: { path: string | string[]; methods: Record<string, boolean> }; handle?: { stack?: unknown[] } }[]) {
    if (layer.route) {
      const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
      for (const p of paths) for (const m of Object.keys(layer.route.methods)) found.push({ method: m.toUpperCase(), path: p });
    } else if (layer.handle?.stack) {
      collectRoutes(layer.handle.stack, found);
    }
  }
  return found;
}

let database: Database;
let t: TestApp;
let db: Database['db'];
let admin: Agent;
let token: string;
const ids: Record<string, string> = {};

// Tables whose rows a refused request must leave alone (sessions, throttling, audit and outbox record attempts).
const WATCHED = [
  'directories', 'users', 'user_sponsors', 'groups', 'group_members', 'catalogs', 'catalog_owners', 'resources', 'resource_roles',
  'access_packages', 'access_package_resource_roles', 'access_package_incompatibles', 'policies', 'policy_requestors', 'policy_stages',
  'policy_stage_approvers', 'requests', 'request_stages', 'request_stage_approvers', 'assignments', 'assignment_grants',
  'access_reviews', 'access_review_reviewers', 'access_review_instances', 'access_review_items', 'access_review_decisions',
];

async function fingerprint(): Promise<string> {
  const parts: string[] = [];
  for (const table of WATCHED) {
    const { rows } = await db.raw(`select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as h, count(*) as n from ${table} t`);
    parts.push(`${table}:${rows[0].n}:${rows[0].h}`);
  }
  return parts.join('\n');
}

beforeAll(async () => {
  database = await createTestDatabase();
  db = database.db;
  t = createTestApp(database);
  await seedDirectory(database, fabrikam(), t.clock);
  const rita = await signIn(t.app, USER.requestor);
  const max = await signIn(t.app, USER.manager);
  // A delivered request (nothing left to cancel) and a denied one (nothing left to decide).
  ids.request = await requestId(rita, PKG.repo, await policyId(db, PKG.repo, 'Members'), {});
  ids.denied = await requestId(rita, PKG.wiki, await policyId(db, PKG.wiki, 'Staff: with approval'), validWiki);
  await decide(max, ids.denied, 'deny', 'no');
  ids.assignment = (await db('assignments').where({ request_id: ids.request }).first('id')).id;
  // The assignment is ended, so removing it again is refused.
  await db('assignments').where({ id: ids.assignment }).update({ state: 'expired', ended_at: t.clock.now(), end_reason: 'expired' });
  await db('assignment_grants').where({ assignment_id: ids.assignment }).update({ revoked_at: t.clock.now() });
  ids.catalog = (await db('catalogs').where({ name: 'General' }).first('id')).id;
  ids.resource = (await db('resources').where({ key: 'repo' }).first('id')).id;
  ids.policy = await policyId(db, PKG.repo, 'Members');
  ids.user = (await db('users').where({ email: USER.requestor }).first('id')).id;
  ids.group = (await db('groups').where({ key: 'staff' }).first('id')).id;
  admin = await signIn(t.app, USER.admin);
  token = csrfFrom((await admin.get('/')).text);
});
afterAll(async () => {
  await database.close();
});

/** Real ids where a route names one, chosen so that a post that passes validation is still refused. */
function concrete(path: string): string[] {
  const real = path
    .replace(/^\/requests\/:id/, `/requests/${ids.request}`)
    .replace(/^\/approvals\/:id/, `/approvals/${ids.denied}`)
    .replace(/^\/access-packages\/:id/, `/access-packages/${PKG.adminOnly}`)
    .replace(/^\/admin\/catalogs\/:id/, `/admin/catalogs/${ids.catalog}`)
    .replace(/^\/admin\/access-packages\/:id/, `/admin/access-packages/${PKG.repo}`)
    .replace(/^\/admin\/requests\/:id/, `/admin/requests/${ids.request}`)
    .replace(/^\/admin\/users\/:id/, `/admin/users/${ids.user}`)
    .replace(/^\/admin\/groups\/:id/, `/admin/groups/${ids.group}`)
    .replace(':policyId', ids.policy)
    .replace(':resourceId', ids.resource)
    .replace(':assignmentId', ids.assignment)
    .replace(/:hint/, 'fabrikam.test')
    .replace('*rest', 'access-packages/not-a-uuid')
    .replace(/:[a-zA-Z]+/g, '00000000-0000-4000-8000-000000000000');
  const bad = path.includes(':') ? [path.replace(/:[a-zA-Z]+/g, '..%2F..%2Fetc%2Fpasswd'), path.replace(/:[a-zA-Z]+/g, 'x'.repeat(300)), path.replace(/:[a-zA-Z]+/g, '%FF%FE')] : [];
  return [real, ...bad];
}

// Cursors that decode to well-formed keys with hostile parts: a NUL, a non-id, a bogus date, a huge number.
const cursors = [['\u0000', 'x'], ['a', 'not-a-uuid'], ['2027-99-99', '00000000-0000-4000-8000-000000000000'], [1e308, '1'], ['x']].map((k) => Buffer.from(JSON.stringify(k)).toString('base64url'));

const FIELDS = ['name', 'email', 'password', 'policy', 'decision', 'justification', 'stage', 'action', 'reason', 'user', 'startDate', 'endDate', 'specificPeriod', 'q', 'scope', 'roles', 'key', 'account', 'directory', 'file', 'owners'];

function hostileBodies(): (string | Record<string, unknown>)[] {
  const withToken = (s: string) => `_csrf=${encodeURIComponent(token)}&${s}`;
  return [
    withToken(''),
    withToken(FIELDS.map((f) => `${f}=a&${f}=b`).join('&')),
    withToken(FIELDS.map((f) => `${f}[x]=1`).join('&')),
    withToken('__proto__[admin]=1&constructor[prototype][admin]=1&__proto__=x'),
    withToken(FIELDS.map((f) => `${f}=${'x'.repeat(2500)}`).join('&')),
    withToken(FIELDS.map((f) => `${f}=%00%01%FF%FE%ED%A0%80`).join('&')),
    withToken('startDate=2027-13-45&endDate=99999-01-01&expirationDate=0000-00-00&decision=approve&stage=NaN'),
    withToken(`name=${'y'.repeat(70_000)}`),
  ];
}

describe('hostile input', () => {
  it('finds the routes to drive', () => {
    const routes = collectRoutes((t.app as unknown as { router: { stack: unknown[] } }).router.stack);
    expect(routes.length).toBeGreaterThan(40);
    expect(routes).toContainEqual({ method: 'POST', path: '/access-packages/:id/request' });
  });

  it('never answers 5xx and never changes a row, whatever it is sent', async () => {
    const routes = collectRoutes((t.app as unknown as { router: { stack: unknown[] } }).router.stack).filter((r) => r.path !== '/sign-out');
    const before = await fingerprint();
    const failures: string[] = [];
    const check = (label: string, status: number) => {
      if (status >= 500) failures.push(`${label}: ${status}`);
    };
    for (const route of routes) {
      for (const path of concrete(route.path)) {
        if (route.method === 'GET') {
          check(`GET ${path}`, (await admin.get(path)).status);
          check(`GET ${path}?hostile`, (await admin.get(`${path}?q[]=a&q[]=b&after=%FF&before=${'z'.repeat(600)}&tab[x]=1&page=-1&policy=../../x&resubmitOf=not-a-uuid&specificPeriod[]=yes`)).status);
          check(`GET ${path}?nul`, (await admin.get(`${path}?q=%2Fetc%2Fpasswd%00&person=%00&action=%00&from=2027-99-99&to=%00&state=%00&field=all`)).status);
          for (const cursor of cursors) check(`GET ${path}?after=crafted`, (await admin.get(`${path}?after=${cursor}&before=${cursor}`)).status);
          continue;
        }
        for (const body of hostileBodies()) {
          const res = await admin.post(path).type('form').send(body as string);
          check(`POST ${path} (${String(body).slice(0, 60)}…)`, res.status);
          if (res.status === 303 && !/^\/(sign-in|admin\/import)/.test(res.headers.location ?? '')) failures.push(`POST ${path} accepted a hostile body (303 to ${res.headers.location})`);
        }
        check(`POST ${path} json`, (await admin.post(path).set('X-CSRF-Token', token).set('Content-Type', 'application/json').send('{"__proto__":{"admin":true},"name":["a"]}')).status);
        check(`POST ${path} text`, (await admin.post(path).set('X-CSRF-Token', token).set('Content-Type', 'text/plain').send('name=a')).status);
        check(`POST ${path} bad multipart`, (await admin.post(path).set('X-CSRF-Token', token).set('Content-Type', 'multipart/form-data; boundary=x').send('--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n')).status);
      }
      for (const method of ['put', 'delete', 'patch'] as const) check(`${method.toUpperCase()} ${route.path}`, (await admin[method](concrete(route.path)[0]).set('X-CSRF-Token', token)).status);
    }
    const anonymous = supertest(t.app);
    check('GET /%FF', (await anonymous.get('/%FF')).status);
    check('GET huge query', (await anonymous.get(`/sign-in?returnTo=${'a'.repeat(10_000)}`)).status);
    expect(failures).toEqual([]);
    expect(await fingerprint()).toBe(before);
  }, 300_000);

  it('answers a body over the limit with 413 and a readable page', async () => {
    const res = await admin.post('/requests/' + ids.request + '/cancel').type('form').send(`_csrf=${encodeURIComponent(token)}&pad=${'z'.repeat(80_000)}`);
    expect(res.status).toBe(413);
    expect(res.text).toContain('What you sent is too large');
  });
});
