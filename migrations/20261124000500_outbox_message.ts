import type { Knex } from 'knex';

/**
 * The outbox keeps each email's parts (greeting, paragraphs, details, action) and renders text and
 * HTML when it sends, instead of keeping both renderings: a sweep that ends 100,000 assignments
 * writes a fifth of the bytes (see README, Performance). Messages already rendered keep their bodies
 * and are sent as they are.
 */
const statements: string[] = [
  `alter table notifications add column message jsonb`,
  `alter table notifications alter column text_body drop not null`,
  `alter table notifications alter column html_body drop not null`,
  `alter table notifications add constraint notifications_content
     check ((message is not null and jsonb_typeof(message) = 'object') or (message is null and text_body is not null and html_body is not null))`,
];

export async function up(db: Knex): Promise<void> {
  for (const sql of statements) await db.raw(sql);
}
