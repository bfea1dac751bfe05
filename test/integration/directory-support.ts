import { existsSync, readFileSync } from 'node:fs';
import type { Knex } from 'knex';
import { systemActor } from '../../src/audit/audit.ts';
import type { Clock } from '../../src/clock.ts';
import { importDirectory, type ImportResult } from '../../src/directory/import.ts';

export const CONTOSO_FILE = '/work/shared/fixtures/contoso.json';
export const DEMO_FILE = new URL('../../src/directory/demo/portico-demo.json', import.meta.url);
/** contoso.json is the contract's example, shared beside the repository; tests that need it skip without it. */
export const hasContoso = existsSync(CONTOSO_FILE);
export const readJson = (file: string | URL): any => JSON.parse(readFileSync(file, 'utf8'));
export const contoso = (): any => readJson(CONTOSO_FILE);

export function run(db: Knex, file: unknown, clock: Clock, dryRun = false): Promise<ImportResult> {
  return importDirectory(db, file, { dryRun, clock, actor: systemActor('test') });
}

export async function runOk(db: Knex, file: unknown, clock: Clock, dryRun = false) {
  const result = await run(db, file, clock, dryRun);
  if (!result.ok) throw new Error(`import failed:\n${result.problems.map((p) => `${p.path}: ${p.message}`).join('\n')}`);
  return result;
}

/** Every row of every table, sorted, as JSON: two snapshots are equal exactly when the database did not change. */
export async function snapshot(db: Knex): Promise<Record<string, string[]>> {
  const tables = (await db('information_schema.tables').where({ table_schema: 'public', table_type: 'BASE TABLE' }).select('table_name')) as { table_name: string }[];
  const out: Record<string, string[]> = {};
  for (const { table_name } of tables.sort((a, b) => a.table_name.localeCompare(b.table_name))) {
    if (table_name.startsWith('knex_')) continue;
    out[table_name] = ((await db(table_name).select('*')) as unknown[]).map((r) => JSON.stringify(r)).sort();
  }
  return out;
}

export async function count(db: Knex, table: string, where: Record<string, unknown> = {}): Promise<number> {
  const [{ n }] = await db(table).where(where).count('* as n');
  return Number(n);
}
