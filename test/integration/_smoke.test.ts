import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Database } from '../../src/db/connect.ts';
import { createTestDatabase } from '../support/db.ts';
let database: Database;
beforeAll(async () => { database = await createTestDatabase(); });
afterAll(async () => { await database.close(); });
it('has an empty users table', async () => {
  const [{ n }] = await database.db('users').count('* as n');
  expect(n).toBe(0);
});
