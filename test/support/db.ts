import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inject } from 'vitest';
import { openDatabase, type Database } from '../../src/db/connect.ts';
import { withDatabase } from './global-postgres.ts';

export type TestDatabaseInfo =
  | { kind: 'pglite'; templateFile: string }
  | { kind: 'postgres'; adminUrl: string; template: string };

declare module 'vitest' {
  export interface ProvidedContext {
    testDatabase: TestDatabaseInfo;
  }
}

export function testDatabaseKind(): TestDatabaseInfo['kind'] {
  return inject('testDatabase').kind;
}

/** A fresh, migrated, empty database of the kind this test project runs on. Close it in afterAll. */
export async function createTestDatabase(options: { poolMax?: number } = {}): Promise<Database> {
  const info = inject('testDatabase');
  if (info.kind === 'pglite') {
    const bytes = readFileSync(info.templateFile);
    return openDatabase({ kind: 'pglite', loadDataDir: new Blob([bytes]) });
  }
  const name = `portico_test_${randomBytes(6).toString('hex')}`;
  const admin = await openDatabase({ kind: 'postgres', url: info.adminUrl, poolMax: 1 });
  try {
    await admin.db.raw(`create database ${name} template ${info.template}`);
  } finally {
    await admin.close();
  }
  const database = await openDatabase({ kind: 'postgres', url: withDatabase(info.adminUrl, name), poolMax: options.poolMax ?? 10 });
  return {
    ...database,
    async close() {
      await database.close();
      const cleanup = await openDatabase({ kind: 'postgres', url: info.adminUrl, poolMax: 1 });
      try {
        await cleanup.db.raw(`drop database if exists ${name} with (force)`);
      } finally {
        await cleanup.close();
      }
    },
  };
}
