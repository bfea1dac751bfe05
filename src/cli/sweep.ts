import { systemClock } from '../clock.ts';
import { databaseTarget, openDatabase } from '../db/connect.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { sweepAndQueueEmails } from '../lifecycle/sweep.ts';
import { createLogger } from '../log.ts';
import { createMailTransport, deliverOutbox } from '../notifications/mailer.ts';
import { createServices } from '../services.ts';
import { configOrExit } from './config.ts';

const USAGE = 'usage: npm run sweep -- [--at 2027-01-31T12:00:00Z] [--no-mail]';

const args = process.argv.slice(2);
let at: Date | undefined;
let mail = true;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--at' && args[i + 1]) {
    at = new Date(args[++i]);
    if (Number.isNaN(at.getTime())) {
      process.stderr.write(`not a date: ${args[i]}\n${USAGE}\n`);
      process.exit(2);
    }
  } else if (args[i] === '--no-mail') mail = false;
  else {
    process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
}

const config = configOrExit(2);
const logger = createLogger(config.logLevel);
const database = await openDatabase(databaseTarget(config.databaseUrl, config.dataDir));
try {
  await migrateToLatest(database.db);
  const clock = at ? { now: () => new Date(at) } : systemClock;
  const services = createServices({ db: database.db, clock, config, logger });
  const report = await sweepAndQueueEmails({ db: database.db, notifier: services.notifier, logger }, clock.now());
  const output: Record<string, unknown> = { at: clock.now().toISOString(), ...report };
  if (mail) {
    const transport = createMailTransport({ smtpUrl: config.smtpUrl, dataDir: config.dataDir, from: config.mailFrom });
    output.mail = await deliverOutbox(database.db, services.views, transport, logger);
    transport.close();
  }
  process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
} finally {
  await database.close();
}
