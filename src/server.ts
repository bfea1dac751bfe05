import type { Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createApp } from './app.ts';
import { systemActor } from './audit/audit.ts';
import { systemClock, type Clock } from './clock.ts';
import type { Config } from './config.ts';
import { databaseTarget, openDatabase, type Database } from './db/connect.ts';
import { migrateToLatest } from './db/migrate.ts';
import { importDirectory } from './directory/import.ts';
import { createLogger, type Logger } from './log.ts';
import { createServices } from './services.ts';
import { startScheduler, type Scheduler } from './lifecycle/sweep.ts';
import { createMailTransport, deliverOutbox } from './notifications/mailer.ts';

export const DEMO_DIRECTORY_FILE = fileURLToPath(new URL('./directory/demo/portico-demo.json', import.meta.url));

export interface RunningPortico {
  url: string;
  server: Server;
  database: Database;
  scheduler: Scheduler;
  close(): Promise<void>;
}

/** Loads the demo directory into a database that has no directory yet. */
export async function loadDemoIfEmpty(database: Database, clock: Clock, logger: Logger): Promise<void> {
  const existing = await database.db('directories').first('id');
  if (existing) return;
  const result = await importDirectory(database.db, JSON.parse(readFileSync(DEMO_DIRECTORY_FILE, 'utf8')), {
    dryRun: false,
    clock,
    actor: systemActor('demo-loader'),
  });
  if (!result.ok) throw new Error(`The demo directory did not import: ${result.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  logger.info('empty database: loaded the demo directory');
}

/** Opens and migrates the database, and serves Portico on config.host:config.port. */
export async function startPortico(
  config: Config,
  options: { clock?: Clock; logger?: Logger; database?: Database; loadDemo?: boolean } = {},
): Promise<RunningPortico> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger(config.logLevel);
  const database = options.database ?? (await openDatabase(databaseTarget(config.databaseUrl, config.dataDir)));
  await migrateToLatest(database.db);
  if (options.loadDemo ?? true) await loadDemoIfEmpty(database, clock, logger);
  const services = createServices({ db: database.db, clock, config, logger });
  const app = createApp({ config, db: database.db, clock, logger, services });
  const transport = createMailTransport({ smtpUrl: config.smtpUrl, dataDir: config.dataDir, from: config.mailFrom });
  const scheduler = startScheduler({
    db: database.db,
    notifier: services.notifier,
    logger,
    clock,
    intervalSeconds: config.sweepIntervalSeconds,
    deliver: () => deliverOutbox(database.db, services.views, transport, logger),
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(config.port, config.host, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  logger.info({ url, database: database.kind }, 'Portico is listening');
  let closing: Promise<void> | undefined;
  return {
    url,
    server,
    database,
    scheduler,
    close() {
      // In-flight requests finish; idle keep-alive connections are closed so the process can exit.
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      })
        .then(() => scheduler.stop())
        .then(() => transport.close())
        .then(() => (options.database ? undefined : database.close()));
      return closing;
    },
  };
}
