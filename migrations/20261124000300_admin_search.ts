import type { Knex } from 'knex';

/** Administration's searches on large directories: users by email fragment, the audit log by actor label. */
const statements: string[] = [
  `create index users_email_trgm on users using gin (email gin_trgm_ops)`,
  `create index audit_log_actor_label on audit_log (actor_label, id desc)`,
];

export async function up(db: Knex): Promise<void> {
  for (const sql of statements) await db.raw(sql);
}
