import type { Knex } from 'knex';

/** A value knex could not have made from the placeholders: kept as it is in every call. */
type Slot = number | { constant: unknown };

interface Compiled {
  sql: string;
  slots: Slot[];
  options: Record<string, unknown>;
}

type Placeholders<Values extends unknown[]> = { [K in keyof Values]: Knex.Raw };

const MARK = '\u0000portico-placeholder-';

function compile(db: Knex, count: number, build: (db: Knex, ...placeholders: Knex.Raw[]) => Knex.QueryBuilder | Knex.Raw): Compiled {
  const placeholders = Array.from({ length: count }, (_, i) => db.raw('?', [`${MARK}${i}`]));
  const query = build(db, ...placeholders).toSQL();
  const slots = query.bindings.map((b): Slot => (typeof b === 'string' && b.startsWith(MARK) ? Number(b.slice(MARK.length)) : { constant: b }));
  return { sql: query.sql, slots, options: (query as { options?: Record<string, unknown> }).options ?? {} };
}

async function send<Row>(db: Knex, compiled: Compiled, values: unknown[]): Promise<Row[]> {
  const bindings = compiled.slots.map((s) => (typeof s === 'number' ? values[s] : s.constant));
  const result = await db.raw(compiled.sql, bindings as Knex.RawBinding[]).options(compiled.options);
  return (result as { rows: Row[] }).rows;
}

/**
 * A query whose SQL text knex builds once per process and shape; each call sends that text with
 * its own values. Building and compiling the queries was a sixth of a page's Node time (knex
 * quotes and wraps every identifier again on every call) for text that never changes.
 *
 * `build` is given the shape, a small value that picks the form of the query (which page of a
 * list, a page size), and a placeholder for each value, not the values: it cannot branch on a
 * value or compute from one, so the text it makes holds for every call with that shape. A
 * placeholder stands where a value would (`where('s.sid', sid)`, a raw's `?`), never in `whereIn`
 * (write `= any(?)`). Rows are returned as PostgreSQL sends them; `first()` only adds `limit 1`.
 * They are `any` by default, as knex gives them; callers that map them say what they read.
 */
export function shapedStatement<Shape, Values extends unknown[], Row = any>(
  build: (db: Knex, shape: Shape, ...placeholders: Placeholders<Values>) => Knex.QueryBuilder | Knex.Raw,
): (db: Knex, shape: Shape, ...values: Values) => Promise<Row[]> {
  const byShape = new Map<string, Compiled>();
  return (db, shape, ...values) => {
    const key = JSON.stringify(shape) ?? '';
    let compiled = byShape.get(key);
    if (!compiled) {
      compiled = compile(db, values.length, (d, ...p) => build(d, shape, ...(p as Placeholders<Values>)));
      byShape.set(key, compiled);
    }
    return send<Row>(db, compiled, values);
  };
}

/** A statement of one shape (see shapedStatement). */
export function statement<Values extends unknown[], Row = any>(
  build: (db: Knex, ...placeholders: Placeholders<Values>) => Knex.QueryBuilder | Knex.Raw,
): (db: Knex, ...values: Values) => Promise<Row[]> {
  const shaped = shapedStatement<null, Values, Row>((db, _shape, ...placeholders) => build(db, ...placeholders));
  return (db, ...values) => shaped(db, null, ...values);
}
