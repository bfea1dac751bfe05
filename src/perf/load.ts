import pg from 'pg';
import { openDatabase } from '../db/connect.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { generate, type GenerateOptions, type GenerateResult } from './generate.ts';
import { TABLES, type Row, type Sink, type TableName } from './tables.ts';

const BATCH_ROWS = 5000;
const MAX_QUEUED = 3;

const quote = (name: string) => `"${name}"`;

/** The statement that inserts a batch passed as one JSON array of row objects (moments as epoch milliseconds). */
function insertSql(table: TableName): string {
  const columns = Object.entries(TABLES[table].columns) as [string, string][];
  const declared = columns.map(([c, type]) => `${quote(c)} ${type === 'timestamptz' ? 'double precision' : type}`);
  const values = columns.map(([c, type]) => (type === 'timestamptz' ? `to_timestamp(${quote(c)} / 1000.0)` : quote(c)));
  return `insert into ${quote(table)} (${columns.map(([c]) => quote(c)).join(', ')}) select ${values.join(', ')} from json_to_recordset($1::json) as r(${declared.join(', ')})`;
}

/**
 * A Sink that writes rows into PostgreSQL in large batches, each one statement that reads a JSON
 * array (`insert ... select from json_to_recordset($1)`), all in one transaction. Parents are
 * always written before their children, so every constraint is checked as usual and holds;
 * nothing is disabled.
 */
export class DatabaseSink implements Sink {
  private readonly client: pg.ClientBase;
  private readonly buffers = new Map<TableName, unknown[]>();
  private readonly sql = new Map<TableName, string>();
  private queue: Promise<void>[] = [];
  private failed: unknown = null;
  /** Milliseconds spent writing each table. */
  readonly timings = new Map<TableName, number>();

  constructor(client: pg.ClientBase) {
    this.client = client;
  }

  add<T extends TableName>(table: T, row: Row<T>): void {
    let buffer = this.buffers.get(table);
    if (!buffer) this.buffers.set(table, (buffer = []));
    buffer.push(row);
    if (buffer.length >= BATCH_ROWS) this.write(table);
  }

  /** Queues the table's buffered rows, after its parents' buffered rows. */
  private write(table: TableName): void {
    for (const parent of TABLES[table].parents) this.write(parent as TableName);
    const buffer = this.buffers.get(table);
    if (!buffer || buffer.length === 0) return;
    this.buffers.delete(table);
    let sql = this.sql.get(table);
    if (!sql) this.sql.set(table, (sql = insertSql(table)));
    const json = JSON.stringify(buffer);
    const previous = this.queue[this.queue.length - 1] ?? Promise.resolve();
    const next = previous.then(async () => {
      if (this.failed) return;
      try {
        const t = performance.now();
        await this.client.query(sql, [json]);
        this.timings.set(table, (this.timings.get(table) ?? 0) + performance.now() - t);
      } catch (err) {
        this.failed ??= new Error(`loading ${table}: ${(err as Error).message}`);
      }
    });
    this.queue.push(next);
  }

  async drain(): Promise<void> {
    while (this.queue.length > MAX_QUEUED) await this.queue.shift();
    if (this.failed) throw this.failed;
  }

  async flush(): Promise<void> {
    for (const table of [...this.buffers.keys()]) this.write(table);
    await Promise.all(this.queue);
    this.queue = [];
    if (this.failed) throw this.failed;
  }
}

/** Indexes of the loaded tables that back no constraint (primary keys and unique constraints stay). */
async function droppableIndexes(client: pg.ClientBase): Promise<{ name: string; definition: string }[]> {
  const { rows } = await client.query(
    `select i.relname as name, pg_get_indexdef(x.indexrelid) as definition
       from pg_index x
       join pg_class i on i.oid = x.indexrelid
       join pg_class t on t.oid = x.indrelid
       join pg_namespace n on n.oid = t.relnamespace
      where n.nspname = current_schema() and t.relname = any($1)
        and not exists (select 1 from pg_constraint c where c.conindid = x.indexrelid)
      order by i.relname`,
    [Object.keys(TABLES)],
  );
  return rows;
}

async function trySetLocal(client: pg.ClientBase, name: string, value: string): Promise<boolean> {
  await client.query('savepoint try_set');
  try {
    await client.query(`set local ${name} = ${value}`);
    await client.query('release savepoint try_set');
    return true;
  } catch {
    await client.query('rollback to savepoint try_set');
    return false;
  }
}

/** Foreign keys of the loaded tables that some row breaks (one anti-join per key). */
async function brokenForeignKeys(client: pg.ClientBase): Promise<string[]> {
  const { rows } = await client.query(
    `select c.conname as name, t.relname as child, p.relname as parent, ca.attname as child_column, pa.attname as parent_column
       from pg_constraint c
       join pg_class t on t.oid = c.conrelid
       join pg_class p on p.oid = c.confrelid
       join pg_namespace n on n.oid = t.relnamespace
       join pg_attribute ca on ca.attrelid = c.conrelid and ca.attnum = c.conkey[1]
       join pg_attribute pa on pa.attrelid = c.confrelid and pa.attnum = c.confkey[1]
      where c.contype = 'f' and n.nspname = current_schema() and t.relname = any($1) and cardinality(c.conkey) = 1`,
    [Object.keys(TABLES)],
  );
  const broken: string[] = [];
  for (const fk of rows) {
    const found = await client.query(
      `select 1 from ${quote(fk.child)} c where c.${quote(fk.child_column)} is not null
         and not exists (select 1 from ${quote(fk.parent)} p where p.${quote(fk.parent_column)} = c.${quote(fk.child_column)}) limit 1`,
    );
    if (found.rowCount) broken.push(fk.name);
  }
  return broken;
}

export interface LoadResult extends GenerateResult {
  seconds: number;
  rows: number;
}

/**
 * Migrates the database, then generates the directory straight into it in one transaction and
 * analyzes the tables (so the planner knows their sizes at once). Refuses a database that already
 * has a directory with the same hint.
 */
export async function loadIntoDatabase(url: string, options: GenerateOptions, log: (line: string) => void = () => {}): Promise<LoadResult> {
  const migrated = await openDatabase({ kind: 'postgres', url, poolMax: 1 });
  try {
    await migrateToLatest(migrated.db);
  } finally {
    await migrated.close();
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const started = Date.now();
  try {
    const hint = options.hint ?? 'contoso-scale.example';
    const existing = await client.query('select 1 from directories where hint = $1', [hint]);
    if (existing.rowCount) throw new Error(`the database already has a directory "${hint}"`);
    await client.query('begin');
    await client.query('set local synchronous_commit = off');
    await client.query(`set local maintenance_work_mem = '256MB'`);
    // Into an empty database, secondary indexes are dropped for the load and built again after it
    // (in the same transaction): building an index once is far quicker than growing it row by row.
    // Unique and primary-key constraints stay, and unique indexes are checked when rebuilt.
    const empty = !(await client.query('select 1 from directories limit 1')).rowCount;
    const indexes = empty ? await droppableIndexes(client) : [];
    for (const index of indexes) await client.query(`drop index ${quote(index.name)}`);
    // Foreign keys: checked once per key with a set-based query after the load, rather than by a
    // trigger per row, when we may (a superuser, as in the benchmark's own cluster); per row otherwise.
    const setBased = empty && (await trySetLocal(client, 'session_replication_role', 'replica'));
    const sink = new DatabaseSink(client);
    const result = await generate(sink, options);
    await sink.flush();
    const indexing = Date.now();
    for (const index of indexes) await client.query(index.definition);
    if (indexes.length) log(`rebuilt ${indexes.length} indexes in ${((Date.now() - indexing) / 1000).toFixed(1)} s`);
    if (setBased) {
      const checking = Date.now();
      await client.query('set local session_replication_role = origin');
      const broken = await brokenForeignKeys(client);
      if (broken.length) throw new Error(`generated rows break foreign keys: ${broken.join(', ')}`);
      log(`checked every foreign key in ${((Date.now() - checking) / 1000).toFixed(1)} s`);
      // What the triggers that were off would have kept (search_text comes from the generator).
      await client.query('select access_review_progress_recount(null)');
      // Statistics first: without them, each package's lookup of its roles scanned the whole table (37 s instead of 1 s).
      await client.query('analyze access_package_resource_roles, resource_roles, resources, policies');
      await client.query('update access_packages set resources = access_package_resources(id), open_to = access_package_open_to(id)');
    }
    await client.query('commit');
    if (process.env.PERF_DEBUG) for (const [t, ms] of sink.timings) log(`  ${t}: ${(ms / 1000).toFixed(1)} s`);
    log(`loaded in ${((Date.now() - started) / 1000).toFixed(1)} s; vacuuming and analyzing`);
    // What autovacuum would soon do: statistics for the planner, and the visibility map that lets
    // index-only scans skip the table.
    for (const table of [...Object.keys(TABLES), 'access_review_progress']) await client.query(`vacuum analyze ${quote(table)}`);
    const rows = Object.values(result.counts).reduce((a, b) => a + b, 0);
    return { ...result, seconds: (Date.now() - started) / 1000, rows };
  } catch (err) {
    await client.query('rollback').catch(() => {});
    throw err;
  } finally {
    await client.end();
  }
}
