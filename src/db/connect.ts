import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import knexFactory, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import pg from 'pg';
import { prepareStatements } from './prepared.ts';

// bigint (count(*), bigserial) as a number and `date` as its 'YYYY-MM-DD' text, the same on both backends.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
pg.types.setTypeParser(pg.types.builtins.DATE, (v) => v);

export type Db = Knex;

export type DatabaseTarget =
  | { kind: 'postgres'; url: string; poolMax?: number }
  | { kind: 'pglite'; dataDir?: string; loadDataDir?: Blob };

export function databaseTarget(databaseUrl: string | undefined, dataDir: string): DatabaseTarget {
  return databaseUrl ? { kind: 'postgres', url: databaseUrl } : { kind: 'pglite', dataDir: path.join(dataDir, 'pgdata') };
}

export interface Database {
  db: Db;
  kind: DatabaseTarget['kind'];
  /** The connection URL, for a PostgreSQL server (tests start second processes on it). */
  url?: string;
  /** The embedded instance, when there is one (tests dump it to clone databases quickly). */
  pglite?: PGlite;
  close(): Promise<void>;
}

export async function openDatabase(target: DatabaseTarget): Promise<Database> {
  if (target.kind === 'postgres') {
    const db = knexFactory({
      client: 'pg',
      connection: target.url,
      pool: {
        min: 0,
        max: target.poolMax ?? 10,
        afterCreate: (connection: pg.Client, done: (err: Error | null, connection: pg.Client) => void) => {
          prepareStatements(connection);
          // Portico's statements are short and many run at once. A parallel plan starts worker
          // processes for one statement: the planner chose one for a search when its estimate grew
          // by a quarter, and under load the search then served half as many pages.
          connection.query('set max_parallel_workers_per_gather = 0').then(
            () => done(null, connection),
            (err: Error) => done(err, connection),
          );
        },
      },
      acquireConnectionTimeout: 10_000,
    });
    return { db, kind: 'postgres', url: target.url, close: () => db.destroy() };
  }
  if (target.dataDir) mkdirSync(target.dataDir, { recursive: true });
  const pglite = new PGlite({
    dataDir: target.dataDir,
    loadDataDir: target.loadDataDir,
    extensions: { pg_trgm },
  });
  await pglite.waitReady;
  // knex-pglite takes our own instance (so extensions load) through a connection function.
  const db = knexFactory({
    client: ClientPgLite as unknown as typeof Knex.Client,
    dialect: 'postgres',
    connection: () => ({ pglite }) as object,
    acquireConnectionTimeout: 30_000,
  } as Knex.Config);
  return {
    db,
    kind: 'pglite',
    pglite,
    close: async () => {
      await db.destroy();
      if (!pglite.closed) await pglite.close();
    },
  };
}
