import type { Knex } from 'knex';
import type { Eta } from 'eta';
import { jsonParameter } from '../db/json.ts';

/** One email as people read it: rendered to text and HTML from the same parts. */
export interface Message {
  subject: string;
  greeting: string;
  paragraphs: string[];
  details?: [string, string][];
  action?: { label: string; url: string };
}

export interface Recipient {
  userId: string;
  email: string;
  name: string;
  directoryId: string;
}

export function renderMessage(views: Eta, message: Message): { text: string; html: string } {
  return {
    text: views.render('/emails/text', message),
    html: views.render('/emails/html', message),
  };
}

export interface Outgoing {
  kind: string;
  to: Recipient;
  message: Message;
  /** Makes a repeated event (a sweep run twice, a retried transaction) write the message once. */
  dedupeKey?: string;
}

/** Messages per statement: each statement carries its rows as one JSON parameter. */
const ROWS_PER_STATEMENT = 1000;

/**
 * Writes messages to the outbox in the caller's transaction: each is sent if and only if the change
 * that caused it commits. Batched, so a sweep that ends 100,000 assignments writes in chunks. The
 * message is kept as its parts and rendered when it is sent (claimDue).
 */
export async function enqueue(trx: Knex, outgoing: Outgoing[], now: Date): Promise<void> {
  const rows = outgoing.map(({ kind, to, message, dedupeKey }) => ({
    directory_id: to.directoryId,
    kind,
    to_user_id: to.userId,
    to_address: to.email,
    subject: message.subject,
    message,
    dedupe_key: dedupeKey ?? null,
  }));
  // Sending is scheduled in wall-clock time (the mailer's), whatever moment the domain clock says.
  const sendFrom = new Date();
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
    await trx.raw(
      `insert into notifications (directory_id, kind, to_user_id, to_address, subject, message, dedupe_key, created_at, next_attempt_at)
       select m.directory_id, m.kind, m.to_user_id, m.to_address, m.subject, m.message, m.dedupe_key, ?::timestamptz, ?::timestamptz
       from json_to_recordset(?::json) as m(directory_id uuid, kind text, to_user_id uuid, to_address text, subject text, message jsonb, dedupe_key text)
       on conflict (dedupe_key) do nothing`,
      [now, sendFrom, jsonParameter(rows.slice(i, i + ROWS_PER_STATEMENT))],
    );
  }
}

/** What a row holds: the message's parts, or its renderings (rows written before parts were kept). */
export interface StoredContent {
  message: Message | null;
  text_body: string | null;
  html_body: string | null;
}

/**
 * A row's text and HTML. Throws when the row holds neither usable parts nor both renderings; the
 * mailer then retries that message later and sends the others.
 */
export function renderedBodies(views: Eta, content: StoredContent): { textBody: string; htmlBody: string } {
  if (content.message) {
    const { text, html } = renderMessage(views, content.message);
    return { textBody: text, htmlBody: html };
  }
  if (content.text_body === null || content.html_body === null) throw new Error('the outbox row has no message to send');
  return { textBody: content.text_body, htmlBody: content.html_body };
}

/** A claimed message, as stored. */
export interface OutboxMessage {
  id: string;
  toAddress: string;
  subject: string;
  content: StoredContent;
  attempts: number;
}

/** A message ready for the transport. */
export interface RenderedMessage {
  id: string;
  toAddress: string;
  subject: string;
  textBody: string;
  htmlBody: string;
}

const LEASE_MS = 2 * 60 * 1000;

/**
 * Takes up to `limit` messages that are due and not leased by another process, and leases them for
 * two minutes (SKIP LOCKED: several Portico processes never take the same message).
 */
export async function claimDue(db: Knex, now: Date, limit: number): Promise<OutboxMessage[]> {
  return db.transaction(async (trx) => {
    const rows = await trx('notifications')
      .whereNull('sent_at')
      .where('next_attempt_at', '<=', now)
      .where((w) => w.whereNull('locked_until').orWhere('locked_until', '<', now))
      .orderBy('next_attempt_at')
      .limit(limit)
      .forUpdate()
      .skipLocked()
      .select('id', 'to_address', 'subject', 'message', 'text_body', 'html_body', 'attempts');
    if (rows.length === 0) return [];
    await trx('notifications').whereIn('id', rows.map((r) => r.id)).update({ locked_until: new Date(now.getTime() + LEASE_MS) });
    return rows.map((r) => ({
      id: r.id,
      toAddress: r.to_address,
      subject: r.subject,
      content: { message: r.message, text_body: r.text_body, html_body: r.html_body },
      attempts: r.attempts,
    }));
  });
}

export async function markSent(db: Knex, id: string, at: Date): Promise<void> {
  await db('notifications').where({ id }).whereNull('sent_at').update({ sent_at: at, locked_until: null, last_error: null });
}

/** Exponential backoff: 1, 2, 4 ... minutes, at most an hour between attempts; never given up on. */
export function nextAttempt(now: Date, attempts: number): Date {
  const minutes = Math.min(60, 2 ** Math.max(0, attempts - 1));
  return new Date(now.getTime() + minutes * 60_000);
}

export async function markFailed(db: Knex, id: string, attempts: number, error: string, now: Date): Promise<void> {
  await db('notifications')
    .where({ id })
    .whereNull('sent_at')
    .update({ attempts, last_error: error.slice(0, 1000), next_attempt_at: nextAttempt(now, attempts), locked_until: null });
}
