/**
 * npm run export -- HINT
 * Writes the directory with that hint as a directory file (JSON) on standard output.
 * Exit codes: 0 done, 1 no such directory or a failure, 2 usage or configuration error.
 */
import { databaseTarget, openDatabase } from '../db/connect.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { exportDirectory } from '../directory/export.ts';
import { createLogger } from '../log.ts';
import { configOrExit } from './config.ts';

const USAGE = 'usage: npm run export -- HINT > directory.json';

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (args.length !== 1 || args[0].startsWith('-')) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(2);
}

const config = configOrExit(2);
const logger = createLogger(config.logLevel);
const database = await openDatabase(databaseTarget(config.databaseUrl, config.dataDir));
let exitCode = 0;
try {
  await migrateToLatest(database.db);
  const file = await exportDirectory(database.db, args[0]);
  if (!file) {
    process.stderr.write(`no directory with the hint ${args[0]}\n`);
    exitCode = 1;
  } else {
    await new Promise<void>((resolve, reject) => process.stdout.write(`${JSON.stringify(file, null, 2)}\n`, (err) => (err ? reject(err) : resolve())));
  }
} catch (err) {
  logger.error({ err }, 'export failed');
  exitCode = 1;
} finally {
  await database.close();
}
process.exit(exitCode);
