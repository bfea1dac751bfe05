import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/connect.ts';
import { createTestDatabase, testDatabaseKind } from '../support/db.ts';
import { readJson, DEMO_FILE } from './directory-support.ts';
import { cli } from '../support/cli.ts';

/**
 * The command-line import as an operator runs it: on the PGlite project against a fresh data
 * directory (the CLI migrates it itself), on the PostgreSQL project against a fresh database.
 */
describe('npm run import / export', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let database: Database | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'portico-cli-'));
    // Vitest sets BASE_URL=/ (Vite's base path) in the environment: not the portal's setting.
    const { DATABASE_URL: _url, BASE_URL: _base, ...rest } = process.env;
    env = { ...rest, DATA_DIR: path.join(dir, 'data'), LOG_LEVEL: 'warn', NODE_ENV: 'test' };
    if (testDatabaseKind() === 'postgres') {
      database = await createTestDatabase();
      env.DATABASE_URL = database.url;
    }
  });
  afterAll(async () => {
    await database?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a file with problems: exit code 1 and one `path: message` line per problem', async () => {
    const bad = readJson(DEMO_FILE);
    bad.users[3].manager = 'nobody@northwind.example';
    bad.catalogs[0].accessPackages[0].policies[0].questions[0].pattern = '^(NW-';
    bad.catalogs[0].colour = 'blue';
    const file = path.join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify(bad));
    const { code, stdout, stderr } = await cli('import.ts', [file], env);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain('catalogs[0].colour: unknown field\n');
    expect(stderr).toContain('1 problem: nothing was imported');

    delete bad.catalogs[0].colour;
    writeFileSync(file, JSON.stringify(bad));
    const second = await cli('import.ts', [file], env);
    expect(second.code).toBe(1);
    const lines = second.stderr.trim().split('\n');
    expect(lines[0]).toBe('users[3].manager: unknown user nobody@northwind.example');
    expect(lines[1]).toMatch(/^catalogs\[0\]\.accessPackages\[0\]\.policies\[0\]\.questions\[0\]\.pattern: not a valid regular expression: /);
    expect(lines[2]).toBe('2 problems: nothing was imported');

    const usage = await cli('import.ts', [], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('usage: npm run import -- FILE [--dry-run]');
  });

  it('imports a good file (exit code 0, the plan on stdout), then exports it', async () => {
    const file = path.join(dir, 'demo.json');
    writeFileSync(file, JSON.stringify(readJson(DEMO_FILE)));
    const imported = await cli('import.ts', [file], env);
    expect(imported.stderr).not.toMatch(/"level":(50|60)/);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toContain('Directory northwind.example (Northwind Traders)');
    expect(imported.stdout).toContain('create user ada.admin@northwind.example');
    expect(imported.stdout).toMatch(/Summary: .*users: 12 created/);

    const exported = await cli('export.ts', ['northwind.example'], env);
    expect(exported.code, exported.stderr).toBe(0);
    const out = JSON.parse(exported.stdout);
    expect(out.directory).toEqual({ hint: 'northwind.example', name: 'Northwind Traders', signIn: { password: true } });
    expect(out.users).toHaveLength(12);
    expect(exported.stdout).not.toContain('portico-demo-password');

    const check = database ?? (await openDatabase({ kind: 'pglite', dataDir: path.join(dir, 'data', 'pgdata') }));
    try {
      const [{ n }] = await check.db('users').count('* as n');
      expect(Number(n)).toBe(12);
    } finally {
      if (!database) await check.close();
    }
  });
});
