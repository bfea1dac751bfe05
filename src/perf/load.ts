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
        await this.client.query(sql, [json]);
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
    const sink = new DatabaseSink(client);
    const result = await generate(sink, options);
    await sink.flush();
    await client.query('commit');
    log(`loaded in ${((Date.now() - started) / 1000).toFixed(1)} s; analyzing`);
    for (const table of Object.keys(TABLES)) await client.query(`analyze ${quote(table)}`);
    const rows = Object.values(result.counts).reduce((a, b) => a + b, 0);
    return { ...result, seconds: (Date.now() - started) / 1000, rows };
  } catch (err) {
    await client.query('rollback').catch(() => {});
    throw err;
  } finally {
    await client.end();
  }
}
