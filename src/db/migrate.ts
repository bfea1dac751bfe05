import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Knex } from 'knex';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

interface MigrationModule {
  up(db: Knex): Promise<void>;
  down?(db: Knex): Promise<void>;
}

/** Lists migrations/*.ts in name order and imports them natively (Node runs .ts files). */
const migrationSource: Knex.MigrationSource<string> = {
  async getMigrations() {
    return readdirSync(MIGRATIONS_DIR)
      .filter((f) => /^\d+_[\w-]+\.ts$/.test(f))
      .sort();
  },
  getMigrationName: (name) => name,
  async getMigration(name): Promise<Knex.Migration> {
    const mod = (await import(pathToFileURL(path.join(MIGRATIONS_DIR, name)).href)) as MigrationModule;
    return { up: mod.up, down: mod.down ?? (async () => { throw new Error(`${name} cannot be undone`); }) };
  },
};

export async function migrateToLatest(db: Knex): Promise<string[]> {
  const [, applied] = (await db.migrate.latest({ migrationSource })) as [number, string[]];
  return applied;
}
