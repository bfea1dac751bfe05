import type { Knex } from 'knex';

/**
 * Emails a sweep causes, kept as one row per batch of events (which notifier call, with which ids)
 * and turned into one outbox message per recipient right after the sweep. The row is written in
 * the transaction that makes the change, so the emails exist exactly when the change does, while
 * the sweep's transactions (and the row locks on people's requests and access they hold) no longer
 * wait for 200,000 messages to be looked up, built and indexed (see README, Performance).
 */
const statements: string[] = [
  `create table notification_events (
    id bigint generated always as identity primary key,
    kind text not null,
    args jsonb not null check (jsonb_typeof(args) = 'array'),
    created_at timestamptz not null,
    next_attempt_at timestamptz not null,
    attempts integer not null default 0,
    last_error text
  )`,
];

export async function up(db: Knex): Promise<void> {
  for (const sql of statements) await db.raw(sql);
}
