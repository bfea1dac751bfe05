/**
 * npm run import -- FILE [--dry-run]
 * Imports a directory file (`-` reads standard input). Prints the plan on standard output;
 * problems go to standard error, one per line as `path: message`. Exit codes: 0 imported (or
 * dry run done), 1 the file has problems (nothing was changed), 2 usage or configuration error.
 */
import { readFileSync } from 'node:fs';
import { systemActor } from '../audit/audit.ts';
import { systemClock } from '../clock.ts';
import { ConfigError, loadConfig } from '../config.ts';
import { databaseTarget, openDatabase } from '../db/connect.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { importDirectory, renderPlan, type Problem } from '../directory/import.ts';
import { parseDirectoryFile } from '../directory/validate.ts';
import { createLogger } from '../log.ts';

const USAGE = 'usage: npm run import -- FILE [--dry-run]   (FILE may be - for standard input)';

function usage(message?: string): never {
  if (message) process.stderr.write(`${message}\n`);
  process.stderr.write(`${USAGE}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const dryRun = args.includes('--dry-run');
const unknown = args.filter((a) => a.startsWith('--') && a !== '--dry-run');
if (unknown.length) usage(`unknown option ${unknown.join(', ')}`);
const files = args.filter((a) => !a.startsWith('--'));
if (files.length !== 1) usage(files.length ? 'give one file' : undefined);
const file = files[0];

let text: string;
try {
  text = readFileSync(file === '-' ? 0 : file, 'utf8');
} catch (err) {
  usage(`cannot read ${file}: ${(err as Error).message}`);
}
let input: unknown;
try {
  input = JSON.parse(text);
} catch (err) {
  process.stderr.write(`(file): not valid JSON: ${(err as Error).message}\n`);
  process.exit(1);
}

function reportProblems(problems: Problem[]): void {
  for (const p of problems) process.stderr.write(`${p.path}: ${p.message}\n`);
  process.stderr.write(`${problems.length} problem${problems.length === 1 ? '' : 's'}: nothing was imported\n`);
}

// A file with problems is reported before the database is even opened.
const checked = parseDirectoryFile(input);
if (!checked.ok) {
  reportProblems(checked.problems);
  process.exit(1);
}

let config;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) usage(err.message);
  throw err;
}
const logger = createLogger(config.logLevel);
const database = await openDatabase(databaseTarget(config.databaseUrl, config.dataDir));
let exitCode = 0;
try {
  await migrateToLatest(database.db);
  const result = await importDirectory(database.db, input, { dryRun, clock: systemClock, actor: systemActor('cli:import') });
  if (!result.ok) {
    reportProblems(result.problems);
    exitCode = 1;
  } else {
    process.stdout.write(renderPlan(result.plan));
    logger.info({ hint: result.plan.hint, dryRun, changes: result.plan.changes.length, applied: result.applied }, dryRun ? 'dry run done' : 'directory imported');
  }
} catch (err) {
  logger.error({ err }, 'import failed');
  exitCode = 1;
} finally {
  await database.close();
}
process.exit(exitCode);
