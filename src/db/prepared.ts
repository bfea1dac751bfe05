import type { Knex } from 'knex';
import type pg from 'pg';

/** Prepared statements kept per connection; the least recently used one is dropped beyond this. */
export const STATEMENTS_PER_CONNECTION = 200;
/** Statements with more parameters than this (bulk inserts, long id lists) are sent unnamed, as before. */
const MAX_PARAMETERS = 64;

/**
 * Marks a query whose best plan depends on its values: a search of one or two letters, which may
 * match a few packages or most of them; the person with 5,000 review items, who needs another
 * plan than the average person a cached generic plan is made for (one review query took 96 ms
 * instead of 1 ms at scale); the administrators' searches of people, groups and catalogs. It is
 * sent unnamed, and PostgreSQL plans an unnamed statement for the values it is given. The mark is
 * a query option (knex hands it to the driver with the statement), so it holds whatever the SQL
 * text starts with; mark the outermost query.
 */
export function plannedPerCall<Q extends Knex.QueryBuilder>(query: Q): Q {
  return query.options({ plannedPerCall: true }) as Q;
}

/**
 * `column = any(ids)`, or `column = id` when there is one id. PostgreSQL makes a kept plan for an
 * array of about ten ids, so it planned a lookup of one request's facts again on every submit and
 * approval (0.8 ms each time); with one id as a value, the plan is made once.
 */
export function whereIdIn<Q extends Knex.QueryBuilder>(query: Q, column: string, ids: string[]): Q {
  return (ids.length === 1 ? query.where(column, ids[0]) : query.whereRaw(`${column} = any(?::uuid[])`, [ids])) as Q;
}

/**
 * A statement ending in `limit $n`, its last value a whole number (a page size, 1 for first()),
 * with that number written into its text instead. A kept plan is made for an unknown limit as if
 * it were a tenth of the rows, so PostgreSQL judged it dearer than planning each call and planned
 * every page again: Available's listing looked 18 times dearer than it is.
 */
export function limitInText<T extends { text: string; values?: unknown[] }>(query: T): T {
  const values = query.values ?? [];
  const match = / limit \$(\d+)$/.exec(query.text);
  const limit = values[values.length - 1];
  if (!match || Number(match[1]) !== values.length || typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 0) return query;
  return { ...query, text: `${query.text.slice(0, match.index)} limit ${limit}`, values: values.slice(0, -1) };
}

type Callback = (err: Error | null, result?: unknown) => void;
type Send = (config: unknown, ...rest: unknown[]) => unknown;
interface QueryConfig {
  text: string;
  values?: unknown[];
  name?: string;
  plannedPerCall?: boolean;
}
interface PgConnection {
  parsedStatements: Record<string, string>;
  submittedNamedStatements?: Record<string, string>;
}

/**
 * Errors after which the server no longer has the statement as pg believes it does: a migration
 * changed the result columns of a cached plan (`select *` after a new column), or the statement is
 * gone (pg closes it when a parameter cannot be serialised; a pooler may discard it).
 */
const statementLost = (err: Error | null) => {
  const code = (err as { code?: string } | null)?.code;
  return (code === '0A000' && /cached plan must not change result type/.test(err!.message)) || code === '26000';
};

/**
 * Names the statements a PostgreSQL connection sends, so the server parses each once per
 * connection instead of on every request (as asyncpg and pgx do). Only statements with parameters
 * are named (not BEGIN, COMMIT and the like), and not those marked plannedPerCall. A name is never
 * used for a second text: a statement dropped from the cache or lost on the server is prepared
 * anew under a new name.
 *
 * PostgreSQL plans a named statement for its values five times, then keeps one generic plan when
 * that is estimated to cost no more (plan_cache_mode = auto, its default). Planning was most of
 * the database's time on a page: half of it on Overview, two thirds on a request's pane. A generic
 * plan cannot use a partial index whose condition arrives as a value, so the hot queries write
 * such conditions (state = 'pending') into their text, and a trailing limit goes into the text
 * here (limitInText).
 *
 * DEALLOCATE is only ever sent while the connection is outside a transaction (pg's transaction
 * status from the last ReadyForQuery is 'I'), so it can neither fail inside nor abort a caller's
 * transaction; until then dropped names wait in a list. A lost statement is sent again at once
 * only outside a transaction: inside one, the error has already aborted the transaction, so it is
 * returned to the caller and the statement is prepared anew next time.
 */
export function prepareStatements(client: pg.Client): void {
  const send = client.query.bind(client) as Send;
  const connection = (client as unknown as { connection: PgConnection }).connection;
  const idle = () => client.getTransactionStatus() === 'I';
  const names = new Map<string, string>(); // text -> name, least recently used first
  const toDeallocate: string[] = [];
  let counter = 0;

  const forget = (text: string) => {
    const name = names.get(text);
    if (name === undefined) return;
    names.delete(text);
    const onServer = connection.parsedStatements[name] !== undefined;
    delete connection.parsedStatements[name];
    delete connection.submittedNamedStatements?.[name];
    if (onServer) toDeallocate.push(name);
  };
  const nameFor = (text: string) => {
    const name = names.get(text) ?? `portico_${++counter}`;
    names.delete(text);
    names.set(text, name);
    if (names.size > STATEMENTS_PER_CONNECTION) forget(names.keys().next().value!);
    return name;
  };
  const deallocateWhileIdle = () => {
    if (toDeallocate.length === 0 || !idle()) return;
    send(toDeallocate.splice(0).map((name) => `deallocate "${name}";`).join(' '), () => {});
  };

  (client as unknown as { query: Send }).query = (config, ...rest) => {
    deallocateWhileIdle();
    const callback = rest[0] as Callback;
    if (typeof (config as QueryConfig)?.text !== 'string' || typeof callback !== 'function') return send(config, ...rest);
    const query = (config as QueryConfig).name ? (config as QueryConfig) : limitInText(config as QueryConfig);
    const values = query?.values?.length ?? 0;
    if (rest.length !== 1 || query.name || values === 0 || values > MAX_PARAMETERS || query.plannedPerCall) {
      return send(query, ...rest);
    }
    // The status before this statement runs: 'I' means it runs on its own, outside a transaction.
    const outsideTransaction = idle();
    return send({ ...query, name: nameFor(query.text) }, (err: Error | null, result?: unknown) => {
      if (!statementLost(err)) return callback(err, result);
      forget(query.text);
      if (!outsideTransaction) return callback(err, result);
      send({ ...query, name: nameFor(query.text) }, callback);
    });
  };
}
