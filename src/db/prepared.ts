import type pg from 'pg';

/** Prepared statements kept per connection; the least recently used one is dropped beyond this. */
export const STATEMENTS_PER_CONNECTION = 200;
/** Statements with more parameters than this (bulk inserts, long id lists) are sent unnamed, as before. */
const MAX_PARAMETERS = 64;

type Callback = (err: Error | null, result?: unknown) => void;
type Send = (config: unknown, ...rest: unknown[]) => unknown;
interface QueryConfig {
  text: string;
  values?: unknown[];
  name?: string;
}

const stalePlan = (err: Error | null) => (err as { code?: string } | null)?.code === '0A000' && /cached plan must not change result type/.test(err!.message);

/**
 * Names the statements a PostgreSQL connection sends, so the server parses and plans each once per
 * connection instead of on every request (as asyncpg and pgx do): most of Portico's queries take
 * longer to plan than to run. PostgreSQL plans the first five executions with their values and
 * keeps a generic plan afterwards only if it costs no more. Only statements with parameters are
 * named (not BEGIN, COMMIT and the like). A name is never used for a second text: a statement
 * dropped from the cache, or whose result columns a migration changed (`select *` after a new
 * column: sent again at once, under a new name), is prepared anew.
 */
export function prepareStatements(client: pg.Client): void {
  const send = client.query.bind(client) as Send;
  const parsed = (client as unknown as { connection: { parsedStatements: Record<string, string> } }).connection.parsedStatements;
  const names = new Map<string, string>(); // text -> name, least recently used first
  let counter = 0;

  const forget = (text: string) => {
    const name = names.get(text)!;
    names.delete(text);
    if (parsed[name] === undefined) return;
    delete parsed[name];
    send(`deallocate "${name}"`, () => {});
  };
  const nameFor = (text: string) => {
    const name = names.get(text) ?? `portico_${++counter}`;
    names.delete(text);
    names.set(text, name);
    if (names.size > STATEMENTS_PER_CONNECTION) forget(names.keys().next().value!);
    return name;
  };

  (client as unknown as { query: Send }).query = (config, ...rest) => {
    const query = config as QueryConfig;
    const callback = rest[0] as Callback;
    const values = query?.values?.length ?? 0;
    if (rest.length !== 1 || typeof callback !== 'function' || typeof query?.text !== 'string' || query.name || values === 0 || values > MAX_PARAMETERS) {
      return send(config, ...rest);
    }
    return send({ ...query, name: nameFor(query.text) }, (err: Error | null, result?: unknown) => {
      if (!stalePlan(err)) return callback(err, result);
      forget(query.text);
      send({ ...query, name: nameFor(query.text) }, callback);
    });
  };
}
