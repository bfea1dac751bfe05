import type { Knex } from 'knex';

/**
 * Entries written by Portico itself (the sweep, imports) have no actor id, and nothing looks them up
 * by a missing id: the index by actor leaves them out, one index fewer to write for each of the
 * 150,000 entries of a large sweep. Lookups by actor (`actor_id = ...`) use it as before.
 */
const statements: string[] = [
  `drop index audit_log_actor`,
  `create index audit_log_actor on audit_log (actor_id, id desc) where actor_id is not null`,
];

export async function up(db: Knex): Promise<void> {
  for (const sql of statements) await db.raw(sql);
}
