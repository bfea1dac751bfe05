import type { Knex } from 'knex';

/**
 * Approvers are reminded once, halfway to a stage's deadline, as My Access does ("Action required
 * reminder"), unless the stage forwards to alternate approvers: the forward is its reminder.
 * remind_at is set when a stage starts; reminded_at when its reminder is written. Stages already
 * pending get their halfway point now: those past it are reminded by the next sweep.
 */
const statements: string[] = [
  `alter table request_stages add column remind_at timestamptz, add column reminded_at timestamptz`,
  `update request_stages set remind_at = started_at + (due_at - started_at) / 2
     where state = 'pending' and escalation_after_days is null and started_at is not null and due_at is not null`,
  `create index request_stages_remind on request_stages (remind_at) where state = 'pending' and reminded_at is null`,
];

export async function up(db: Knex): Promise<void> {
  for (const sql of statements) await db.raw(sql);
}
