import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/connect.ts';
import { STATEMENTS_PER_CONNECTION, limitInText, plannedPerCall, whereIdIn } from '../../src/db/prepared.ts';
import { createTestDatabase } from '../support/db.ts';

// One connection, so every statement below runs on the connection whose prepared statements we read.
let database: Database;
let db: Database['db'];

beforeAll(async () => {
  database = await createTestDatabase({ poolMax: 1 });
  db = database.db;
});
afterAll(async () => {
  await database.close();
});

const prepared = async (): Promise<string[]> => (await db.raw('select statement from pg_prepared_statements')).rows.map((r: { statement: string }) => r.statement);

describe('prepared statements on PostgreSQL', () => {
  it('prepares a statement with parameters once per connection and reuses it', async () => {
    for (let i = 0; i < 5; i++) expect((await db.raw('select ?::int + 1 as n', [i])).rows[0].n).toBe(i + 1);
    const statements = await prepared();
    expect(statements.filter((s) => s === 'select $1::int + 1 as n')).toHaveLength(1);
    expect(statements.some((s) => /pg_prepared_statements/.test(s))).toBe(false);
  });

  it('plans a statement once and reuses that plan when PostgreSQL finds it costs no more (its default)', async () => {
    await db.raw('create table prepared_plans (id int primary key, name text)');
    await db('prepared_plans').insert([{ id: 1, name: 'one' }, { id: 2, name: 'two' }]);
    for (let i = 0; i < 8; i++) expect(await db('prepared_plans').where({ id: 1 + (i % 2) }).first('name')).toEqual({ name: i % 2 ? 'two' : 'one' });
    const plans = await db.raw(`select custom_plans, generic_plans from pg_prepared_statements where statement like '%from "prepared_plans"%'`);
    expect(plans.rows).toEqual([{ custom_plans: 5, generic_plans: 3 }]);
  });

  it('sends a statement marked plannedPerCall unnamed, so that every call is planned for its own values', async () => {
    await db.raw('create table prepared_per_call (id int primary key, owner int not null)');
    await db('prepared_per_call').insert([{ id: 1, owner: 7 }, { id: 2, owner: 7 }, { id: 3, owner: 8 }]);
    for (let i = 0; i < 8; i++) expect(await plannedPerCall(db('prepared_per_call').where('owner', 7 + (i % 2))).first(db.raw('count(*)::int as n'))).toEqual({ n: i % 2 ? 1 : 2 });
    // Whatever its text starts with: here a common table expression.
    const owners = db('prepared_per_call').where('owner', '>', 0).select('id');
    for (let i = 0; i < 8; i++) expect(await plannedPerCall(db.with('o', owners).from('o').where('o.id', '>', i % 2)).first(db.raw('count(*)::int as n'))).toEqual({ n: i % 2 ? 2 : 3 });
    const reads = async () => (await prepared()).filter((s) => /prepared_per_call"? where|from "o"/.test(s) && !/^insert/.test(s));
    expect(await reads()).toEqual([]);
    // The same query unmarked is prepared as usual.
    await db('prepared_per_call').where('owner', 8).first(db.raw('count(*)::int as n'));
    expect(await reads()).toEqual(['select count(*)::int as n from "prepared_per_call" where "owner" = $1 limit 1']);
  });

  it('writes a trailing limit into the text, so that a page of a long list keeps its plan', async () => {
    await db.raw('create table prepared_pages (id int primary key, owner int not null)');
    await db.raw('insert into prepared_pages select n, n % 3 from generate_series(1, 3000) n');
    await db.raw('create index prepared_pages_owner on prepared_pages (owner, id)');
    await db.raw('analyze prepared_pages');
    for (let i = 0; i < 8; i++) {
      const page = await db('prepared_pages').where('owner', i % 3).where('id', '>', i).orderBy('id').limit(21).pluck('id');
      expect(page).toHaveLength(21);
    }
    const plans = await db.raw(`select statement, generic_plans from pg_prepared_statements where statement like '%from "prepared_pages"%'`);
    // With the limit as a value, PostgreSQL judged a kept plan dearer and planned every call again.
    expect(plans.rows).toEqual([{ statement: 'select "id" from "prepared_pages" where "owner" = $1 and "id" > $2 order by "id" asc limit 21', generic_plans: 3 }]);
  });

  it('leaves a limit that is not the last value of a whole number as a value', () => {
    const q = (text: string, values: unknown[]) => limitInText({ text, values });
    expect(q('select 1 from t where a = $1 limit $2', ['x', 20])).toEqual({ text: 'select 1 from t where a = $1 limit 20', values: ['x'] });
    expect(q('select 1 from t limit $1 offset $2', [20, 40])).toEqual({ text: 'select 1 from t limit $1 offset $2', values: [20, 40] });
    expect(q('select 1 from t limit $1 for update', [1])).toEqual({ text: 'select 1 from t limit $1 for update', values: [1] });
    expect(q('select 1 from t where a = $2 limit $1', [5, 'x'])).toEqual({ text: 'select 1 from t where a = $2 limit $1', values: [5, 'x'] });
    expect(q('select 1 from t limit $1', ['1; drop table t'])).toEqual({ text: 'select 1 from t limit $1', values: ['1; drop table t'] });
    expect(q('select 1 from t limit $1', [1.5])).toEqual({ text: 'select 1 from t limit $1', values: [1.5] });
  });

  it('finds rows by one id or by several, and keeps the plan of a one-id lookup', async () => {
    await db.raw('create table prepared_ids (id uuid primary key, name text)');
    const ids = ['00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000003'];
    await db('prepared_ids').insert(ids.map((id, i) => ({ id, name: `n${i}` })));
    expect(await whereIdIn(db('prepared_ids'), 'id', ids.slice(0, 2)).orderBy('name').pluck('name')).toEqual(['n0', 'n1']);
    for (let i = 0; i < 8; i++) expect(await whereIdIn(db('prepared_ids'), 'id', [ids[i % 3]]).pluck('name')).toEqual([`n${i % 3}`]);
    const plans = await db.raw(`select generic_plans from pg_prepared_statements where statement like 'select "name" from "prepared_ids" where "id" = $1'`);
    expect(plans.rows).toEqual([{ generic_plans: 3 }]);
  });

  it('answers with the new columns after a migration changes a table a prepared statement reads', async () => {
    await db.raw('create table prepared_probe (id int primary key, name text)');
    await db('prepared_probe').insert({ id: 1, name: 'one' });
    expect(await db('prepared_probe').where({ id: 1 }).first()).toEqual({ id: 1, name: 'one' });
    await db.raw(`alter table prepared_probe add column label text not null default 'new'`);
    expect(await db('prepared_probe').where({ id: 1 }).first()).toEqual({ id: 1, name: 'one', label: 'new' });
  });

  it('prepares a statement again when the server has lost it (a pooler or DEALLOCATE ALL)', async () => {
    expect((await db.raw('select ?::int * 2 as n', [3])).rows[0].n).toBe(6);
    await db.raw('deallocate all');
    expect((await db.raw('select ?::int * 2 as n', [4])).rows[0].n).toBe(8);
  });

  it('inside a transaction, answers a changed table with the error once, then with the new columns', async () => {
    await db.raw('create table prepared_probe_tx (id int primary key)');
    await db('prepared_probe_tx').insert({ id: 1 });
    expect(await db('prepared_probe_tx').where({ id: 1 }).first()).toEqual({ id: 1 });
    await db.raw(`alter table prepared_probe_tx add column label text not null default 'new'`);
    // The stale plan has aborted the transaction: the caller gets the error, not a second one.
    await expect(db.transaction((trx) => trx('prepared_probe_tx').where({ id: 1 }).first())).rejects.toThrow(/cached plan must not change result type/);
    expect(await db.transaction((trx) => trx('prepared_probe_tx').where({ id: 1 }).first())).toEqual({ id: 1, label: 'new' });
  });

  it('never leaves more than its limit on the server, even when a statement is dropped inside a failed transaction', async () => {
    for (let i = 0; i < STATEMENTS_PER_CONNECTION; i++) await db.raw(`select ?::int as fill${i}`, [i]);
    await expect(
      db.transaction(async (trx) => {
        await trx.raw('select 1 / 0');
      }),
    ).rejects.toThrow(/division by zero/);
    await expect(
      db.transaction(async (trx) => {
        await trx.raw('select 1 / 0').catch(() => {});
        await trx.raw('select ?::int as one_more', [1]); // aborted transaction: refused, and one statement dropped
      }),
    ).rejects.toThrow(/current transaction is aborted/);
    expect((await db.raw('select ?::int as one_more', [2])).rows[0].one_more).toBe(2);
    expect((await prepared()).length).toBeLessThanOrEqual(STATEMENTS_PER_CONNECTION);
  });

  it('keeps at most its limit of statements on a connection, dropping the least recently used', async () => {
    for (let i = 0; i < STATEMENTS_PER_CONNECTION + 20; i++) await db.raw(`select ?::int as n${i}`, [i]);
    const statements = await prepared();
    expect(statements.length).toBeLessThanOrEqual(STATEMENTS_PER_CONNECTION);
    expect(statements).toContain(`select $1::int as n${STATEMENTS_PER_CONNECTION + 19}`);
    expect(statements).not.toContain('select $1::int as n0');
    // A dropped statement is prepared again when it comes back.
    expect((await db.raw('select ?::int as n0', [7])).rows[0].n0).toBe(7);
  });
});
