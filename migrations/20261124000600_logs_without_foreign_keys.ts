import type { Knex } from 'knex';

/**
 * The outbox and the audit log are logs: a row records whom an email was for and where something
 * happened, and must not depend on those rows still existing (the audit log's actor ids already
 * outlive the people they name). Their foreign keys made every email and every audit entry lock the
 * directory's row and the recipient's row (`FOR KEY SHARE`, which writes to those rows), the largest
 * single cost of a sweep that ends 100,000 assignments (see README, Performance). Portico never
 * deletes a directory; a person deleted by an import keeps their id on the emails written to them,
 * as in the audit log. The index by recipient only served the foreign key's `on delete set null`.
 */
const statements: string[] = [
  `alter table notifications drop constraint notifications_directory_id_fkey, drop constraint notifications_to_user_id_fkey`,
  `drop index notifications_user`,
  `alter table audit_log drop constraint audit_log_directory_id_fkey`,
];

export async function up(db: Knex): Promise<void> {
  for (const sql of statements) await db.raw(sql);
}
