import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/connect.ts';
import { shapedStatement, statement } from '../../src/db/statement.ts';
import { createTestDatabase } from '../support/db.ts';

// Statements whose text knex builds once (src/db/statement.ts): every call must read with its own
// values, a value must never become part of the text, and each shape has its own text.

let database: Database;
let db: Database['db'];

beforeAll(async () => {
  database = await createTestDatabase();
  db = database.db;
  await db.raw('create table statement_test (id int primary key, name text not null, at timestamptz)');
  await db('statement_test').insert([
    { id: 1, name: 'alpha', at: new Date('2026-01-01T00:00:00Z') },
    { id: 2, name: "o'brien ? $1", at: new Date('2026-02-01T00:00:00Z') },
    { id: 3, name: 'gamma', at: null },
  ]);
});

afterAll(async () => {
  await db.raw('drop table statement_test');
  await database.close();
});

describe('a statement built once', () => {
  it('reads with each call’s values, as the same query built by knex each time does', async () => {
    let builds = 0;
    const byName = statement<[name: string, since: Date]>((db, name, since) => {
      builds++;
      return db('statement_test').where('name', name).where('at', '>=', since).select('id', 'at');
    });
    const since = new Date('2025-12-31T00:00:00Z');
    for (const name of ['alpha', "o'brien ? $1", 'nobody']) {
      const expected = await db('statement_test').where('name', name).where('at', '>=', since).select('id', 'at');
      expect(await byName(db, name, since)).toEqual(expected);
    }
    expect(await byName(db, 'alpha', new Date('2026-06-01T00:00:00Z'))).toEqual([]);
    expect(builds).toBe(1);
  });

  it('keeps the constants knex put in the text (a limit, a literal) and uses a value as often as it appears', async () => {
    const firstOther = statement<[id: number]>((db, id) =>
      db('statement_test').whereNot('id', id).whereRaw('? < id + 10', [id]).whereNot('name', 'gamma').orderBy('id').first('id'),
    );
    expect(await firstOther(db, 1)).toEqual([{ id: 2 }]);
    expect(await firstOther(db, 2)).toEqual([{ id: 1 }]);
    expect(await firstOther(db, 20)).toEqual([]);
  });

  it('runs in the caller’s transaction', async () => {
    const names = statement<[id: number]>((db, id) => db('statement_test').where('id', '>=', id).orderBy('id').select('name'));
    await db.transaction(async (trx) => {
      await trx('statement_test').insert({ id: 4, name: 'delta', at: null });
      expect((await names(trx, 3)).map((r) => r.name)).toEqual(['gamma', 'delta']);
      await trx.rollback();
    }).catch(() => undefined);
    expect((await names(db, 3)).map((r) => r.name)).toEqual(['gamma']);
  });

  it('builds each shape once, and a shape’s text holds for any values', async () => {
    const built: string[] = [];
    const page = shapedStatement<{ from: 'start' | 'after'; limit: number }, [afterId: number]>((db, shape, afterId) => {
      built.push(`${shape.from}:${shape.limit}`);
      const q = db('statement_test').orderBy('id').select('id');
      if (shape.from === 'after') q.where('id', '>', afterId);
      return q.limit(shape.limit);
    });
    expect(await page(db, { from: 'start', limit: 2 }, 0)).toEqual([{ id: 1 }, { id: 2 }]);
    expect(await page(db, { from: 'after', limit: 2 }, 1)).toEqual([{ id: 2 }, { id: 3 }]);
    expect(await page(db, { from: 'after', limit: 2 }, 2)).toEqual([{ id: 3 }]);
    expect(await page(db, { from: 'after', limit: 1 }, 1)).toEqual([{ id: 2 }]);
    expect(await page(db, { from: 'start', limit: 2 }, 99)).toEqual([{ id: 1 }, { id: 2 }]);
    expect(built).toEqual(['start:2', 'after:2', 'after:1']);
  });
});
