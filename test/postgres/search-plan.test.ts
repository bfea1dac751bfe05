import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Knex } from 'knex';
import { countAvailable, firstAvailablePage, listAvailable, listedPackageFacts, type PackageListItem, type SearchField } from '../../src/access-packages/data.ts';
import type { Database } from '../../src/db/connect.ts';
import type { Scale } from '../../src/perf/generate.ts';
import { loadIntoDatabase } from '../../src/perf/load.ts';
import { explain, explainKept } from '../../src/perf/bench.ts';
import { packagesInScope, requestsInScope } from '../../src/admin/request-admin-data.ts';
import { otherPackages } from '../../src/admin/data.ts';
import type { CurrentUser } from '../../src/auth/current-user.ts';
import { checkIntegrity } from '../../src/integrity/checks.ts';
import { createTestDatabase } from '../support/db.ts';
import { openDatabase } from '../../src/db/connect.ts';
import { createAccessPackageService } from '../../src/access-packages/service.ts';
import { createOverviewService } from '../../src/overview/service.ts';
import { escalateDueStages, expireDueStages, remindApprovers } from '../../src/approvals/lifecycle.ts';
import { systemActor } from '../../src/audit/audit.ts';
import { deferNotifications } from '../../src/notifications/deferred.ts';
import type { Notifier } from '../../src/notifications/notifier.ts';
import { createTestApp } from '../support/app.ts';

// Real PostgreSQL only: the plans are the server's. Enough packages that a scan would be chosen if
// the search had no index to use. Plans, not timings: `npm run bench` measures.
const SCALE: Scale = { name: 'plan-test', users: 3_000, groups: 120, catalogs: 1_500, packages: 6_000, policies: 7_500, assignments: 3_000, requests: 2_000, reviews: 6 };

let database: Database;
let db: Knex;
let requestor: { id: string; directoryId: string; type: 'member' };

beforeAll(async () => {
  database = await createTestDatabase();
  db = database.db;
  const loaded = await loadIntoDatabase(database.url!, { scale: SCALE, now: new Date(), passwordHash: 'scrypt$32768$8$1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5', seed: 7 });
  const user = await db('users').where({ directory_id: loaded.directoryId, type: 'member', is_admin: false }).whereNotNull('manager_id').orderBy('email').first('id');
  requestor = { id: user.id, directoryId: loaded.directoryId, type: 'member' };
}, 120_000);
afterAll(async () => {
  await database.close();
});

async function withResources(packages: PackageListItem[]) {
  const facts = await listedPackageFacts(db, requestor.id, packages.map((p) => p.id));
  return packages.map((p) => ({ ...p, description: facts.get(p.id)!.description, resources: facts.get(p.id)!.resources }));
}

async function plansOf(q: string, field: SearchField): Promise<string[]> {
  const seen: { sql: string; bindings: unknown[] }[] = [];
  const listener = (x: { sql: string; bindings?: unknown[] }) => seen.push({ sql: x.sql, bindings: x.bindings ?? [] });
  db.on('query', listener);
  try {
    // A search's first page, then a later page and its count.
    const first = await firstAvailablePage(db, requestor, new Date(), { q, field }, 20, 100);
    expect(first.rows).toHaveLength(21);
    const last = first.rows[19];
    await listAvailable(db, requestor, new Date(), { q, field }, { after: [last.sortName, last.id] }, 20);
    await countAvailable(db, requestor, new Date(), { q, field }, 100);
  } finally {
    db.removeListener('query', listener);
  }
  const plans = [];
  for (const query of seen.filter((s) => /access_packages/.test(s.sql))) plans.push((await explain(db, query.sql, query.bindings)).join('\n'));
  return plans;
}

describe('searching 6,000 access packages', () => {
  for (const field of ['all', 'name', 'resources'] as const) {
    it(`by ${field} uses the trigram indexes and scans no table`, async () => {
      const plans = await plansOf('payroll', field);
      expect(plans.length).toBe(3);
      for (const plan of plans) {
        expect(plan, plan).not.toMatch(/Seq Scan on (access_packages|resources|resource_roles|access_package_resource_roles)\b/);
        const index = { all: 'access_packages_search_trgm', name: 'access_packages_name_trgm', resources: 'resources_name_trgm' }[field];
        expect(plan, plan).toMatch(new RegExp(`Bitmap Index Scan on ${index}\\b`));
        expect(plan, plan).not.toMatch(/Gather/);
      }
    });
  }

  it('is planned without parallel workers on every connection of the pool', async () => {
    // At entra scale the planner started a worker process for the search "payroll", and under load
    // the search served half as many pages (connect.ts). Several at once, so the pool opens several connections.
    const settings = await Promise.all(Array.from({ length: 4 }, () => db.transaction(async (trx) => (await trx.raw('show max_parallel_workers_per_gather')).rows[0].max_parallel_workers_per_gather)));
    expect(settings).toEqual(['0', '0', '0', '0']);
  });

  it('finds what it should', async () => {
    const found = await withResources(await listAvailable(db, requestor, new Date(), { q: 'payroll', field: 'all' }, {}, 20));
    expect(found.length).toBeGreaterThan(0);
    for (const p of found) {
      const text = `${p.name} ${p.description} ${p.resources.map((r) => r.resourceName).join(' ')}`.toLowerCase();
      expect(text).toContain('payroll');
    }
  });

  for (const field of ['all', 'name', 'resources'] as const) {
    it(`by ${field}, a search too short for a trigram ("a") reads packages in name order until a page is found, without sorting every match`, async () => {
      // The first page (the listing counted up to 101, in one statement with the page's facts), then a later one.
      const { result: first, plan } = await withFirstPlan(() => firstAvailablePage(db, requestor, new Date(), { q: 'a', field }, 20, 100));
      const last = first.rows[19];
      const { result: next, plan: nextPlan } = await withFirstPlan(() => listAvailable(db, requestor, new Date(), { q: 'a', field }, { after: [last.sortName, last.id] }, 20));
      expect(first.rows).toHaveLength(21);
      expect(first.total).toBe(101);
      expect(next).toHaveLength(21);
      for (const p of [...first.rows, ...(await withResources(next))]) {
        const text = field === 'name' ? p.name : field === 'resources' ? p.resources.map((r) => r.resourceName).join(' ') : `${p.name} ${p.description} ${p.resources.map((r) => r.resourceName).join(' ')}`;
        expect(text.toLowerCase()).toContain('a');
      }
      const keys = [...first.rows.slice(0, 20), ...next].map((p) => p.sortName);
      expect(keys).toEqual([...keys].sort());
      for (const p of [plan, nextPlan]) expect(p, p).toMatch(/Index (Only )?Scan using access_packages_listing on access_packages/);
      // Only the 101 listed are sorted, for the page shown: not every package that holds an "a".
      expect(plan, plan).not.toMatch(/Sort Key: \(?lower\(/);
      expect(nextPlan, nextPlan).not.toMatch(/Sort/);
    });
  }
});

/** Runs a data function and returns its result with the plan of the first statement it sent. */
async function withFirstPlan<T>(run: () => Promise<T>, explainWith = explain): Promise<{ result: T; plan: string }> {
  const seen: { sql: string; bindings: unknown[] }[] = [];
  const listener = (x: { sql: string; bindings?: unknown[] }) => seen.push({ sql: x.sql, bindings: x.bindings ?? [] });
  db.on('query', listener);
  let result: T;
  try {
    result = await run();
  } finally {
    db.removeListener('query', listener);
  }
  return { result, plan: (await explainWith(db, seen[0].sql, seen[0].bindings)).join('\n') };
}

describe('administrators\' lists', () => {
  const adminScope = () => ({ user: {} as CurrentUser, directoryId: requestor.directoryId, isAdmin: true, catalogIds: null });
  const packagesByCatalog = (limit: number) =>
    db('access_packages as p').join('catalogs as c', 'c.id', 'p.catalog_id').where('c.directory_id', requestor.directoryId).orderByRaw('lower(c.name), c.id, lower(p.name), p.id').limit(limit).pluck('p.id');

  it('Requests reads its newest page from an index, without sorting every request of the directory', async () => {
    const { result: rows, plan } = await withFirstPlan(() => requestsInScope(db, adminScope(), { state: '', catalogId: '', packageId: '' }, {}, 20));
    expect(rows).toHaveLength(21);
    expect(rows.map((r) => r.submittedAt.getTime())).toEqual(rows.map((r) => r.submittedAt.getTime()).sort((a, b) => b - a));
    expect(plan, plan).toMatch(/Index Scan using requests_directory_submitted on requests/);
    expect(plan, plan).not.toMatch(/Sort/);
  });

  it('the Requests filter lists packages catalog by catalog, in name order from an index, without reading every package', async () => {
    const { result: packages, plan } = await withFirstPlan(() => packagesInScope(db, adminScope()));
    expect(packages.map((p) => p.id)).toEqual(await packagesByCatalog(1000));
    expect(plan, plan).toMatch(/Index Scan using catalogs_listing on catalogs/);
    expect(plan, plan).not.toMatch(/Seq Scan on access_packages/);
  });

  it('the incompatible-packages picker lists the chosen packages and finds others by name, without reading every package', async () => {
    const [except, chosen] = await packagesByCatalog(2);
    const { result: choices, plan } = await withFirstPlan(() => otherPackages(db, requestor.directoryId, except));
    // Too many to tick one by one: nothing but the chosen (none here), and a search.
    expect(choices).toEqual({ options: [], complete: false });
    expect(plan, plan).toMatch(/Index Scan using catalogs_listing on catalogs/);
    expect(plan, plan).not.toMatch(/Seq Scan on access_packages/);
    expect((await otherPackages(db, requestor.directoryId, except, [chosen])).options.map((p) => p.id)).toEqual([chosen]);
    const word = (await db('access_packages').where({ id: chosen }).first('name')).name.split(' ')[0].toLowerCase();
    const found = await otherPackages(db, requestor.directoryId, except, [chosen], word);
    expect(found.found).toBeGreaterThan(0);
    expect(found.options.map((p) => p.id)).toContain(chosen);
    for (const p of found.options) if (p.id !== chosen) expect(p.name.toLowerCase()).toContain(word);
  });
});

describe('plans kept for every page view', () => {
  it('Available’s first page with what its packages give and the person’s standing with them, and the Overview’s counts, are planned once per connection, not on every view', async () => {
    const one = await openDatabase({ kind: 'postgres', url: database.url!, poolMax: 1 });
    try {
      const user = { id: requestor.id, directory: { id: requestor.directoryId }, type: 'member' } as CurrentUser;
      const packages = createAccessPackageService({ db: one.db, clock: { now: () => new Date() } });
      const overview = createOverviewService({ db: one.db, clock: { now: () => new Date() } });
      for (let i = 0; i < 8; i++) {
        expect((await packages.available(user, { q: '', field: 'all' }, {})).page.items).toHaveLength(20);
        expect((await packages.available(user, { q: 'payroll', field: 'all' }, {})).page.items.length).toBeGreaterThan(0);
        await overview.summary(user);
      }
      const plans = (await one.db.raw('select statement, custom_plans, generic_plans from pg_prepared_statements')).rows as { statement: string; custom_plans: number; generic_plans: number }[];
      const of = (pattern: RegExp) => plans.filter((p) => pattern.test(p.statement)).map((p) => ({ custom: p.custom_plans, generic: p.generic_plans }));
      // Available's first page is one statement: the listing, counted, with the page's facts.
      // A search of three letters or more keeps its plan too: the same plan was chosen for rare and common words.
      for (const pattern of [/^with "listed" as .*lower\(p.name\) as sort_name from "access_packages".*as incompatible_with/s, /^with "listed" as .*m.search_text like .*as incompatible_with/s, /as "approvalsOldestDue"/]) {
        expect(of(pattern), String(pattern)).toEqual([{ custom: 5, generic: 3 }]);
      }
    } finally {
      await one.close();
    }
  });
});

describe('Available’s first page', () => {
  it('reads the directory’s disabled catalogs once, by their index, instead of each listed package’s catalog', async () => {
    expect(await db('catalogs').where({ directory_id: requestor.directoryId, enabled: false }).count('* as n').first()).not.toEqual({ n: 0 });
    for (const q of ['', 'payroll']) {
      const { result, plan } = await withFirstPlan(() => firstAvailablePage(db, requestor, new Date(), { q, field: 'all' }, 20, 100), explainKept);
      expect(result.rows.length).toBeGreaterThan(0);
      expect(plan, plan).toMatch(/(Scan using|Scan on) catalogs_disabled\b/);
      expect(plan, plan).not.toMatch(/catalogs_pkey/);
    }
  });
});

describe('a search’s kept plan', () => {
  for (const field of ['all', 'name', 'resources'] as const) {
    it(`by ${field}, made for no word in particular, still reads the trigram index and scans no table`, async () => {
      const { result, plan } = await withFirstPlan(() => firstAvailablePage(db, requestor, new Date(), { q: 'payroll', field }, 20, 100), explainKept);
      expect(result.rows.length).toBeGreaterThan(0);
      const index = { all: 'access_packages_search_trgm', name: 'access_packages_name_trgm', resources: 'resources_name_trgm' }[field];
      expect(plan, plan).toMatch(new RegExp(`Bitmap Index Scan on ${index}\\b`));
      expect(plan, plan).not.toMatch(/Seq Scan on (access_packages|resources|resource_roles|access_package_resource_roles)\b/);
    });
  }
});

describe('the lifecycle sweep', () => {
  // A batch of 10 of many due: the claim used to read the stages joined to every request pending
  // approval, hashed and sorted on every batch (0.35 s a batch at five times entra).
  const steps = [
    { name: 'expiry', index: 'request_stages_due', due: "due_at <= :at", run: (trx: Knex, at: Date, notifier: Notifier) => expireDueStages(trx, at, systemActor('test'), notifier, { limit: 10 }) },
    { name: 'reminders', index: 'request_stages_remind', due: "reminded_at is null and remind_at <= :at and due_at > :at", run: (trx: Knex, at: Date, notifier: Notifier) => remindApprovers(trx, at, notifier, { limit: 10 }) },
    { name: 'forwarding', index: 'request_stages_escalate', due: "escalated_at is null and escalate_at <= :at and due_at > :at", run: (trx: Knex, at: Date, notifier: Notifier) => escalateDueStages(trx, at, systemActor('test'), notifier, { limit: 10 }) },
  ];
  for (const step of steps) {
    it(`finds a batch for ${step.name} by walking its stage index in order, reading no more stages than it takes`, async () => {
      // The moment most stages are due for this step: the latest time it would act on any stage.
      const time = { expiry: 'due_at', reminders: 'remind_at', forwarding: 'escalate_at' }[step.name]!;
      const at = new Date((await db.raw(`select percentile_disc(0.8) within group (order by ${time}) as t from request_stages where state = 'pending' and ${time} is not null`)).rows[0].t);
      const due = Number((await db.raw(`select count(*) as n from request_stages where state = 'pending' and ${step.due}`, { at })).rows[0].n);
      expect(due).toBeGreaterThan(20);
      const seen: { sql: string; bindings: unknown[] }[] = [];
      const listener = (x: { sql: string; bindings?: unknown[] }) => seen.push({ sql: x.sql, bindings: x.bindings ?? [] });
      const notifier = deferNotifications(createTestApp(database).services.notifier, at);
      const trx = await db.transaction();
      db.on('query', listener);
      try {
        expect(await step.run(trx, at, notifier)).toBe(10);
      } finally {
        db.removeListener('query', listener);
        await trx.rollback();
      }
      // The stages are found first, then their requests locked, then the stages themselves.
      const claim = seen.find((q) => /^select "s"\."id" as "stage_id", "s"\."request_id" from "request_stages" as "s" where /.test(q.sql));
      expect(claim, seen.map((q) => q.sql).join('\n')).toBeDefined();
      const plan = (await explain(db, claim!.sql, claim!.bindings)).join('\n');
      expect(plan, plan).not.toMatch(/Hash|requests/);
      // Only stages due are read from the index: in order, only the ten taken (expiry, and
      // reminders here); or all those due, then sorted (forwarding here, 27 due).
      const read = new RegExp(`Index Scan (?:using|on) ${step.index}(?: on request_stages s)? \\(actual rows=(\\d+) loops=1\\)`).exec(plan);
      expect(read, plan).not.toBeNull();
      expect(Number(read![1])).toBeLessThanOrEqual(due);
      if (step.name !== 'forwarding') expect(Number(read![1]), plan).toBe(10);
    });
  }
});

describe('the generated directory', () => {
  it('keeps every invariant of the integrity checker', async () => {
    expect(await checkIntegrity(db)).toEqual([]);
  });

  it('holds the search text the triggers would write for every package', async () => {
    const stale = await db('access_packages').whereRaw('search_text <> access_package_search_text(id, name, description)').count({ n: '*' });
    expect(stale[0].n).toBe(0);
    expect(await db('access_packages').count({ n: '*' })).not.toEqual([{ n: 0 }]);
  });
});
