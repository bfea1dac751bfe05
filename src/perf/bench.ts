import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Knex } from 'knex';
import { hashPassword } from '../auth/password.ts';
import { loadConfig } from '../config.ts';
import { openDatabase } from '../db/connect.ts';
import { startThrowawayCluster, type ThrowawayCluster } from '../db/throwaway-cluster.ts';
import { firstAvailablePage } from '../access-packages/data.ts';
import { runSweep } from '../lifecycle/sweep.ts';
import { queueDeferredNotifications } from '../notifications/deferred.ts';
import { createLogger } from '../log.ts';
import { createServices } from '../services.ts';
import { freePort } from '../shared/net.ts';
import { judgeBudgets, type RunFigures } from './budgets.ts';
import { findFixtures, type BenchFixtures } from './fixtures.ts';
import { SCALES, type Scale } from './generate.ts';
import { request, signIn } from './http.ts';
import { loadIntoDatabase } from './load.ts';
import { postScript, runWrk, type LoadResult } from './wrk.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PASSWORD = 'portico-bench-password';
const HINT = 'contoso-scale.example';
/** Portico believes it is behind TLS (as in production), so its secure session cookie is sent. */
const BEHIND_TLS = { 'X-Forwarded-Proto': 'https' };
/** What a browser sends. */
const BROWSER = { ...BEHIND_TLS, 'Accept-Encoding': 'gzip, deflate', Accept: 'text/html' };

export interface BenchOptions {
  scale: Scale;
  seconds: number;
  /** Seconds of load on each page before any is measured (the server warming up). */
  warmUpSeconds: number;
  connections: number;
  threads: number;
  /** An already loaded database to use instead of a throwaway cluster (its data is changed by the run). */
  databaseUrl?: string;
  logLevel: string;
  /** NODE_OPTIONS for the Portico process (for example --max-semi-space-size=8). */
  nodeOptions?: string;
  out: (line: string) => void;
}

interface PageResult extends LoadResult {
  name: string;
  note?: string;
}

/** Resident memory of a process, now and at its peak, in MB (Linux). */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

async function waitForHealth(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the server exited:\n${log()}`);
    try {
      if ((await request(`${url}/healthz`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the server did not answer within 60 s:\n${log()}`);
}

/**
 * What serves the Available page's bytes for comparison: bare node:http, the ceiling for this
 * machine; Express with nothing else; and Express with express-session and a signed-in session
 * kept in memory, the least any signed-in page of this stack can cost (Portico's own session is
 * read from PostgreSQL).
 */
type Reference = 'node:http' | 'Express' | 'Express, signed in';

const referenceScripts: Record<Reference, string> = {
  'node:http': `http.createServer((req, res) => { res.writeHead(200, { ...headers, 'Content-Length': String(body.length) }); res.end(body); })`,
  Express: `(() => {
    const app = require('express')();
    app.get('/access-packages', (req, res) => res.set(headers).send(body));
    return http.createServer(app);
  })()`,
  'Express, signed in': `(() => {
    const session = require('express-session');
    const app = require('express')();
    app.use(session({ secret: 'a reference session secret, long enough', resave: false, saveUninitialized: false, rolling: true, store: new session.MemoryStore() }));
    app.get('/sign-in', (req, res) => { req.session.user = 'someone'; res.send('signed in'); });
    app.get('/access-packages', (req, res) => (req.session.user ? res.set(headers).send(body) : res.status(403).end()));
    return http.createServer(app);
  })()`,
};

/** Starts a child process serving exactly these bytes at /access-packages, as `kind` does. */
async function startReferenceServer(kind: Reference, dir: string, body: Buffer, headers: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  writeFileSync(path.join(dir, 'body'), body);
  const script = `
    const http = require('node:http');
    const body = require('node:fs').readFileSync(${JSON.stringify(path.join(dir, 'body'))});
    const headers = ${JSON.stringify(headers)};
    ${referenceScripts[kind]}.listen(${port}, '127.0.0.1', () => console.log('ready'));`;
  // From the project's folder, so that require finds its Express.
  const child = spawn(process.execPath, ['-e', script], { cwd: path.resolve(import.meta.dirname, '../..'), stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 25_000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

/** The SQL a call sends, captured from knex, so the benchmark can show its plans. */
async function capturedQueries(db: Knex, call: () => Promise<unknown>): Promise<{ sql: string; bindings: unknown[] }[]> {
  const seen: { sql: string; bindings: unknown[] }[] = [];
  const listener = (q: { sql: string; bindings?: unknown[] }) => seen.push({ sql: q.sql, bindings: q.bindings ?? [] });
  db.on('query', listener);
  try {
    await call();
  } finally {
    db.removeListener('query', listener);
  }
  return seen;
}

/**
 * The benchmark's PostgreSQL: durable, as in production (the tests' clusters turn fsync off for
 * speed; here every commit waits for its flush), with memory set as for a database server rather
 * than PostgreSQL's defaults for a small machine: shared buffers a quarter of a 4 GB machine, and
 * room for a large sweep's WAL between checkpoints.
 */
export const BENCH_POSTGRES: Record<string, string> = {
  fsync: 'on',
  synchronous_commit: 'on',
  full_page_writes: 'on',
  shared_buffers: '1GB',
  max_wal_size: '8GB',
};

const fmt = (n: number, digits = 1) => n.toLocaleString('en-GB', { minimumFractionDigits: digits, maximumFractionDigits: digits });

export async function runBenchmark(options: BenchOptions): Promise<void> {
  const { out } = options;
  const work = mkdtempSync(path.join(os.tmpdir(), 'portico-bench-'));
  let cluster: ThrowawayCluster | undefined;
  let server: ChildProcess | undefined;
  const children: ChildProcess[] = [];
  let loadSeconds: number | undefined;
  let searchUsesIndex = false;
  let sweep: RunFigures['sweep'];
  try {
    // ---- database ------------------------------------------------------------------------------
    let databaseUrl = options.databaseUrl;
    if (!databaseUrl) {
      out(`starting a throwaway PostgreSQL cluster (${Object.entries(BENCH_POSTGRES).map(([k, v]) => `${k}=${v}`).join(', ')})`);
      cluster = await startThrowawayCluster({ settings: BENCH_POSTGRES });
      const admin = await openDatabase({ kind: 'postgres', url: cluster.url(), poolMax: 1 });
      await admin.db.raw('create database portico_bench');
      await admin.close();
      databaseUrl = cluster.url('portico_bench');
      out(`generating and loading the ${options.scale.name} directory`);
      const loaded = await loadIntoDatabase(databaseUrl, { scale: options.scale, now: new Date(), passwordHash: await hashPassword(PASSWORD), hint: HINT }, (l) => out(`  ${l}`));
      loadSeconds = loaded.seconds;
      out(`  ${loaded.rows.toLocaleString('en-GB')} rows in ${fmt(loaded.seconds)} s (generate, load, index, check and analyze)`);
      for (const [table, n] of Object.entries(loaded.counts)) if (n >= 1000) out(`    ${table.padEnd(30)} ${n.toLocaleString('en-GB').padStart(10)}`);
    }
    const database = await openDatabase({ kind: 'postgres', url: databaseUrl, poolMax: 4 });
    const db = database.db;
    let fixtures: BenchFixtures;
    try {
      fixtures = await findFixtures(db, HINT, { submitters: 32, packages: 150, decisions: 400 * options.seconds });

      // ---- the search's plan ------------------------------------------------------------------
      const user = await db('users').where({ email: fixtures.requestor.email, directory_id: fixtures.directoryId }).first('id', 'type');
      const requestor = { id: user.id, directoryId: fixtures.directoryId, type: user.type };
      const [search] = await capturedQueries(db, () => firstAvailablePage(db, requestor, new Date(), { q: 'payroll', field: 'all' }, 20, 100));
      out('\nquery plan of the search "payroll" over names, descriptions and resources (its first page, the plan kept for any word):');
      const plan = await explainKept(db, search.sql, search.bindings);
      for (const line of plan) out(`  ${line}`);
      const scans = plan.filter((l: string) => /Seq Scan on (access_packages|resources)\b/.test(l));
      searchUsesIndex = scans.length === 0;
      out(
        scans.length
          ? `  => the search scans a table${options.scale.packages < 5000 ? ' (on a directory this small a scan is the planner\'s cheaper choice)' : ': WARNING'}`
          : '  => the search uses indexes (no sequential scan of access_packages or resources)',
      );
    } finally {
      await database.close();
    }

    // ---- Portico, as in production -----------------------------------------------------------
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const logFile = path.join(work, 'portico.log');
    const logStream = createWriteStream(logFile);
    // Started exactly as `npm start` starts it (with its Node options).
    const startArgs = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts.start as string).split(' ').slice(1);
    server = spawn(process.execPath, startArgs, {
      cwd: ROOT,
      env: {
        ...process.env,
        NODE_ENV: 'production',
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: databaseUrl,
        DATA_DIR: path.join(work, 'data'),
        SESSION_SECRET: 'benchmark-session-secret-that-is-long-enough',
        BASE_URL: `https://127.0.0.1:${port}`,
        TRUST_PROXY: 'loopback',
        LOG_LEVEL: options.logLevel,
        SWEEP_INTERVAL_SECONDS: '0',
        ...(options.nodeOptions ? { NODE_OPTIONS: options.nodeOptions } : {}),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    server.stderr!.pipe(logStream);
    await waitForHealth(url, server, () => readFileSync(logFile, 'utf8').slice(-3000));
    const pid = server.pid!;
    let peak = memoryOf(pid).rss;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, memoryOf(pid).rss);
      } catch {
        // exited
      }
    }, 200);
    out(`\nPortico on ${url} (node ${startArgs.join(' ')}, NODE_ENV=production, LOG_LEVEL=${options.logLevel}${options.nodeOptions ? `, NODE_OPTIONS=${options.nodeOptions}` : ''}), pid ${pid}, ${fmt(memoryOf(pid).rss, 0)} MB resident after start`);

    // ---- sessions --------------------------------------------------------------------------
    const rita = await signIn(url, fixtures.requestor.email, PASSWORD, BEHIND_TLS);
    const approver = await signIn(url, fixtures.approver.email, PASSWORD, BEHIND_TLS);
    const deciders = [];
    for (const d of fixtures.deciders) deciders.push({ session: await signIn(url, d.email, PASSWORD, BEHIND_TLS), pending: d.pending });
    const reviewer = fixtures.reviewer ? await signIn(url, fixtures.reviewer.email, PASSWORD, BEHIND_TLS) : null;
    const submitters = [];
    for (const email of fixtures.submitters) submitters.push(await signIn(url, email, PASSWORD, BEHIND_TLS));
    out(`signed in: requestor ${fixtures.requestor.email} (${fixtures.requestor.requests} requests), approver ${fixtures.approver.email} (${fixtures.approver.pending} pending), ${deciders.length} deciding approvers (${deciders.reduce((n, d) => n + d.pending.length, 0)} requests to decide), reviewer ${fixtures.reviewer?.email ?? 'none'} (${fixtures.reviewer?.items ?? 0} items), ${submitters.length} submitters`);

    const pages: { name: string; path: string; session: { cookie: string }; headers?: Record<string, string> }[] = [
      { name: 'Overview', path: '/', session: rita },
      { name: 'Available', path: '/access-packages', session: rita },
      { name: 'Available, search "payroll"', path: '/access-packages?q=payroll', session: rita },
      { name: 'Request history', path: '/requests', session: rita },
      { name: 'Request pane (htmx)', path: `/requests/${fixtures.requestor.paneRequestId}`, session: rita, headers: { 'HX-Request': 'true', 'HX-Target': 'pane' } },
      { name: 'Approvals', path: '/approvals', session: approver },
    ];
    if (reviewer && fixtures.reviewer) pages.push({ name: 'Access review', path: `/access-reviews/${fixtures.reviewer.instanceId}`, session: reviewer });

    // ---- first-load weight -------------------------------------------------------------------
    out('\nfirst load, compressed (HTML + CSS + JS as a browser with an empty cache fetches them):');
    let heaviest = 0;
    const assetSizes = new Map<string, { bytes: number; cache: string; encoding: string }>();
    const results: PageResult[] = [];
    for (const page of pages) {
      const res = await request(url + page.path, { headers: { ...BROWSER, Cookie: page.session.cookie, ...page.headers } });
      if (res.status !== 200) {
        out(`  ${page.name}: ${page.path} answered ${res.status}; left out of the run`);
        results.push({ name: page.name, requests: 0, rps: 0, p50: 0, p99: 0, errors: 0, note: `not served (${res.status})` });
        continue;
      }
      if (page.headers) continue; // a fragment, not a first load
      const assets = [...res.text.matchAll(/<(?:link rel="stylesheet" href|script src)="([^"]+)"/g)].map((m) => m[1]);
      let total = res.raw.length;
      for (const asset of assets) {
        if (!assetSizes.has(asset)) {
          const a = await request(url + asset, { headers: BROWSER });
          assetSizes.set(asset, { bytes: a.raw.length, cache: String(a.headers['cache-control'] ?? ''), encoding: String(a.headers['content-encoding'] ?? 'none') });
        }
        total += assetSizes.get(asset)!.bytes;
      }
      heaviest = Math.max(heaviest, total);
      out(`  ${page.name.padEnd(30)} HTML ${fmt(res.raw.length / 1024)} KB (${res.headers['content-encoding'] ?? 'uncompressed'}), with assets ${fmt(total / 1024)} KB`);
    }
    for (const [asset, a] of assetSizes) out(`  ${asset}: ${fmt(a.bytes / 1024)} KB, ${a.encoding}, Cache-Control: ${a.cache}`);
    out(`  heaviest first load: ${fmt(heaviest / 1024)} KB; later pages fetch only their HTML`);

    // ---- load --------------------------------------------------------------------------------
    const load = { seconds: options.seconds, connections: options.connections, threads: options.threads };
    out(`\nload: wrk, ${load.threads} threads, ${load.connections} connections, ${load.seconds} s per page, Accept-Encoding: gzip`);
    // A server that has just started runs its code unoptimised until V8 has compiled the hot paths,
    // and its heap is still growing: the first page measured was up to a third slower, whichever it was.
    // Every page is served under load for a while first, as a server that has been up is, and not measured.
    const served = pages.filter((page) => !results.some((r) => r.name === page.name));
    for (const page of served) await runWrk(url + page.path, { ...load, seconds: options.warmUpSeconds, headers: { ...BROWSER, Cookie: page.session.cookie, ...page.headers } });
    out(`  warm-up: each page under the same load for ${options.warmUpSeconds} s first, not measured`);
    for (const page of served) {
      const r = await runWrk(url + page.path, { ...load, headers: { ...BROWSER, Cookie: page.session.cookie, ...page.headers } });
      results.push({ name: page.name, ...r });
      out(`  ${page.name.padEnd(30)} ${fmt(r.rps).padStart(8)} req/s  p50 ${fmt(r.p50, 2)} ms  p99 ${fmt(r.p99, 2)} ms${r.errors ? `  ${r.errors} errors` : ''}`);
    }

    // Submits: every POST is a new request someone may make, with a fresh submission key.
    const submitItems = [];
    for (let j = 0; j < fixtures.packages.length; j++) {
      for (let s = 0; s < submitters.length; s++) {
        const p = fixtures.packages[j];
        const body = new URLSearchParams({ _csrf: submitters[s].csrf, policy: p.policyId, submissionKey: `bench-${j}-${s}-${Date.now()}`, specificPeriod: 'no' }).toString();
        submitItems.push({ path: `/access-packages/${p.packageId}/request`, body, cookie: submitters[s].cookie });
      }
    }
    const submitScript = path.join(work, 'submit.lua');
    writeFileSync(submitScript, postScript(submitItems, load.threads, BROWSER));
    const submit = await runWrk(url + '/', { ...load, script: submitScript });
    results.push({ name: 'Submit a request (POST)', ...submit, note: `${submitItems.length} distinct requests prepared` });
    out(`  ${'Submit a request (POST)'.padEnd(30)} ${fmt(submit.rps).padStart(8)} req/s  p50 ${fmt(submit.p50, 2)} ms  p99 ${fmt(submit.p99, 2)} ms${submit.errors ? `  ${submit.errors} refused: repeats once the ${submitItems.length} prepared ran out` : ''}`);

    // Approvals: each POST decides a different pending request.
    const approveItems = deciders.flatMap((d) =>
      d.pending.map((p) => ({
        path: `/approvals/${p.requestId}`,
        body: new URLSearchParams({ _csrf: d.session.csrf, stage: String(p.stage), decision: 'approve', justification: 'Approved in the benchmark.' }).toString(),
        cookie: d.session.cookie,
      })),
    );
    const approveScript = path.join(work, 'approve.lua');
    writeFileSync(approveScript, postScript(approveItems, load.threads, BROWSER));
    const approve = await runWrk(url + '/', { ...load, script: approveScript });
    results.push({ name: 'Approve a request (POST)', ...approve, note: `${approveItems.length} pending requests prepared` });
    out(`  ${'Approve a request (POST)'.padEnd(30)} ${fmt(approve.rps).padStart(8)} req/s  p50 ${fmt(approve.p50, 2)} ms  p99 ${fmt(approve.p99, 2)} ms${approve.errors ? `  ${approve.errors} refused: repeats once the ${approveItems.length} prepared ran out` : ''}`);

    clearInterval(sampler);
    const memory = memoryOf(pid);
    peak = Math.max(peak, memory.peak);

    // ---- the ceiling: the same bytes from bare node:http, then from the stack alone ------------
    const sample = await request(url + '/access-packages', { headers: { ...BROWSER, Cookie: rita.cookie } });
    const sameBytes = {
      'Content-Type': String(sample.headers['content-type']),
      ...(sample.headers['content-encoding'] ? { 'Content-Encoding': String(sample.headers['content-encoding']) } : {}),
    };
    const serveFrom = async (kind: Reference) => {
      const reference = await startReferenceServer(kind, work, sample.raw, sameBytes);
      children.push(reference.child);
      const cookie = kind === 'Express, signed in' ? (await request(reference.url + '/sign-in')).headers['set-cookie']?.[0]?.split(';')[0] : undefined;
      const headers = { ...BROWSER, ...(cookie ? { Cookie: cookie } : {}) };
      for (let i = 0; i < 20; i++) {
        const check = await request(reference.url + '/access-packages', { headers });
        if (check.status !== 200 || !check.raw.equals(sample.raw)) throw new Error(`${kind} did not serve the Available page's bytes`);
      }
      const served = await runWrk(reference.url + '/access-packages', { ...load, headers: kind === 'node:http' ? { ...BROWSER, Cookie: rita.cookie } : headers });
      await stop(reference.child);
      return served;
    };
    const ceiling = await serveFrom('node:http');
    out(`  ${'Ceiling: bare node:http'.padEnd(30)} ${fmt(ceiling.rps).padStart(8)} req/s  p50 ${fmt(ceiling.p50, 2)} ms  p99 ${fmt(ceiling.p99, 2)} ms  (the Available page's ${fmt(sample.raw.length / 1024)} KB)`);
    const floors: { name: string; rps: number; p50: number; p99: number; errors: number }[] = [];
    for (const kind of ['Express', 'Express, signed in'] as const) {
      const served = await serveFrom(kind);
      floors.push({ name: kind, ...served });
      out(`  ${`Same bytes: ${kind}`.padEnd(30)} ${fmt(served.rps).padStart(8)} req/s  p50 ${fmt(served.p50, 2)} ms  p99 ${fmt(served.p99, 2)} ms  (${fmt((100 * served.rps) / ceiling.rps)} % of the ceiling)`);
    }

    await stop(server);
    server = undefined;

    // ---- the lifecycle sweep with 100,000 due items -------------------------------------------
    const sweepDb = await openDatabase({ kind: 'postgres', url: databaseUrl, poolMax: 4 });
    let sweepLine = '';
    try {
      const at = await sweepMoment(sweepDb.db, 100_000);
      const due = await dueItems(sweepDb.db, at);
      const config = loadConfig({ NODE_ENV: 'production', SESSION_SECRET: 'benchmark-session-secret-that-is-long-enough', DATABASE_URL: databaseUrl, DATA_DIR: path.join(work, 'data'), LOG_LEVEL: 'silent' });
      const logger = createLogger('silent');
      const clock = { now: () => new Date(at) };
      const services = createServices({ db: sweepDb.db, clock, config, logger });
      const started = performance.now();
      const report = await runSweep({ db: sweepDb.db, notifier: services.notifier, logger }, at);
      const seconds = (performance.now() - started) / 1000;
      // What the scheduler does next: the emails the sweep left as events, written to the outbox.
      const outbox = async () => Number((await sweepDb.db('notifications').count({ n: '*' }).first())?.n ?? 0);
      const before = await outbox();
      const queueing = performance.now();
      await queueDeferredNotifications(sweepDb.db, services.notifier, logger);
      const emails = { seconds: (performance.now() - queueing) / 1000, count: (await outbox()) - before };
      sweep = { seconds, dueItems: due, emails };
      sweepLine = `${fmt(seconds, 2)} s for ${due.toLocaleString('en-GB')} due items at ${at.toISOString()}: ${JSON.stringify(report)}; then ${emails.count.toLocaleString('en-GB')} emails written to the outbox in ${fmt(emails.seconds, 2)} s`;
      out(`\nlifecycle sweep: ${sweepLine}`);
    } finally {
      await sweepDb.close();
    }

    // ---- summary -----------------------------------------------------------------------------
    out(`\nsummary (${options.scale.name} scale, real PostgreSQL, ${os.cpus().length} cores shared by wrk, Portico and PostgreSQL, ${load.connections} connections):`);
    out(`| page | req/s | p50 ms | p99 ms | of ceiling | errors |`);
    out(`|---|---:|---:|---:|---:|---:|`);
    for (const r of results) out(`| ${r.name} | ${fmt(r.rps)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${fmt((100 * r.rps) / ceiling.rps)}% | ${r.note && !r.requests ? r.note : r.errors} |`);
    out(`| Ceiling: same bytes from bare node:http | ${fmt(ceiling.rps)} | ${fmt(ceiling.p50, 2)} | ${fmt(ceiling.p99, 2)} | 100% | ${ceiling.errors} |`);
    for (const f of floors) out(`| Same bytes from ${f.name === 'Express' ? 'Express, nothing else' : 'Express with express-session, signed in (session in memory)'} | ${fmt(f.rps)} | ${fmt(f.p50, 2)} | ${fmt(f.p99, 2)} | ${fmt((100 * f.rps) / ceiling.rps)}% | ${f.errors} |`);
    out(`\nfirst load (heaviest page): ${fmt(heaviest / 1024)} KB compressed; server peak memory ${fmt(peak, 0)} MB resident; sweep ${sweepLine.split(':')[0] || 'not run'}`);

    const verdicts = judgeBudgets({
      pages: results.map((r) => ({ name: r.name, rps: r.rps, p99: r.p99, served: r.requests > 0, errors: r.errors })),
      availablePage: 'Available',
      searchPage: 'Available, search "payroll"',
      ceilingRps: ceiling.rps,
      stackFloors: floors.map((f) => ({ name: f.name, rps: f.rps })),
      searchUsesIndex,
      firstLoadKb: heaviest / 1024,
      peakMemoryMb: peak,
      sweep,
      loadSeconds,
    });
    out(`\nbudgets${options.scale.name === 'entra' ? '' : ` (set for the entra scale; this run is ${options.scale.name})`}: ${verdicts.filter((v) => v.met).length} of ${verdicts.length} met`);
    for (const v of verdicts) out(`  ${v.met ? 'met    ' : 'NOT MET'}  ${v.budget}: ${v.measured}`);
  } finally {
    if (server) await stop(server);
    for (const c of children) await stop(c);
    await cluster?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/** EXPLAIN ANALYZE of a query as knex sent it ($1-style placeholders), through the driver itself. */
export async function explain(db: Knex, sql: string, bindings: unknown[]): Promise<string[]> {
  const connection = (await db.client.acquireConnection()) as { query(sql: string, values: unknown[]): Promise<{ rows: Record<string, string>[] }> };
  try {
    const result = await connection.query(`explain (analyze, costs off, timing off, summary on) ${sql}`, bindings);
    return result.rows.map((r) => r['QUERY PLAN']);
  } finally {
    await db.client.releaseConnection(connection);
  }
}

/**
 * The plan PostgreSQL keeps for a statement after its first five runs, made for no value in
 * particular (force_generic_plan asks for it at once), run with these values.
 */
export async function explainKept(db: Knex, sql: string, bindings: unknown[]): Promise<string[]> {
  const connection = (await db.client.acquireConnection()) as { query(sql: string): Promise<{ rows: Record<string, string>[] }> };
  const literal = (v: unknown) => (v === null || v === undefined ? 'null' : `'${(v instanceof Date ? v.toISOString() : String(v)).replace(/'/g, "''")}'`);
  try {
    await connection.query(`set plan_cache_mode = force_generic_plan; prepare portico_explain_kept as ${sql}`);
    const result = await connection.query(`explain (analyze, costs off, timing off, summary on) execute portico_explain_kept(${bindings.map(literal).join(', ')})`);
    return result.rows.map((r) => r['QUERY PLAN']);
  } finally {
    await connection.query('deallocate portico_explain_kept; reset plan_cache_mode').catch(() => {});
    await db.client.releaseConnection(connection);
  }
}

/** The moment by which `count` items are due for the sweep (assignment ends and starts, approval deadlines). */
export async function sweepMoment(db: Knex, count: number): Promise<Date> {
  const row = await db.raw(
    `select t from (
       select ends_at as t from assignments where state = 'delivered' and ends_at is not null
       union all select starts_at from assignments where state = 'scheduled'
       union all select s.due_at from request_stages s join requests r on r.id = s.request_id where s.state = 'pending' and r.state = 'pendingApproval'
     ) x order by t offset ${Math.max(0, count - 1)} limit 1`,
  );
  return new Date(row.rows[0]?.t ?? Date.now());
}

export async function dueItems(db: Knex, at: Date): Promise<number> {
  const row = await db.raw(
    `select (select count(*) from assignments where state = 'delivered' and ends_at <= :at)
          + (select count(*) from assignments where state = 'scheduled' and starts_at <= :at)
          + (select count(*) from request_stages s join requests r on r.id = s.request_id where s.state = 'pending' and r.state = 'pendingApproval' and s.due_at <= :at)
          + (select count(*) from request_stages s join requests r on r.id = s.request_id
              where s.state = 'pending' and r.state = 'pendingApproval' and s.reminded_at is null and s.remind_at <= :at and s.due_at > :at) as n`,
    { at },
  );
  return Number(row.rows[0].n);
}

export { SCALES };
