import { renderedBodies } from '../../src/notifications/outbox.ts';
import type { TestApp } from './app.ts';

export interface MailRead {
  kind: string;
  subject: string;
  /** The text and HTML as they would be sent. */
  text: string;
  html: string;
}

/** The emails in the outbox for one address, oldest first, rendered as the mailer renders them. */
export async function mailTo(t: TestApp, email: string, kind?: string): Promise<MailRead[]> {
  const query = t.database.db('notifications').where({ to_address: email }).orderBy('created_at').select('kind', 'subject', 'message', 'text_body', 'html_body');
  if (kind) query.where({ kind });
  const rows = await query;
  return rows.map((row) => {
    const { textBody, htmlBody } = renderedBodies(t.services.views, row);
    return { kind: row.kind, subject: row.subject, text: textBody, html: htmlBody };
  });
}
