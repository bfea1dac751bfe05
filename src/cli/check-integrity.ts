import { databaseTarget, openDatabase } from '../db/connect.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { checkIntegrity, INTEGRITY_RULES } from '../integrity/checks.ts';
import { configOrExit } from './config.ts';

/** Verifies the invariants of the data; exits 1 on any breach (for operators, CI and the soak tests). */
const config = configOrExit(2);
const database = await openDatabase(databaseTarget(config.databaseUrl, config.dataDir));
try {
  await migrateToLatest(database.db);
  const breaches = await checkIntegrity(database.db);
  if (breaches.length === 0) {
    process.stdout.write(`All ${INTEGRITY_RULES.length} invariants hold.\n`);
  } else {
    for (const b of breaches) process.stdout.write(`BREACH: ${b.rule}: ${b.count} (for example ${b.examples.join(', ')})\n`);
    process.exitCode = 1;
  }
} finally {
  await database.close();
}
