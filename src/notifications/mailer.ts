import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Eta } from 'eta';
import type { Knex } from 'knex';
import nodemailer from 'nodemailer';
import type { Logger } from '../log.ts';
import { claimDue, markFailed, markSent, renderedBodies, type RenderedMessage } from './outbox.ts';

export interface MailTransport {
  send(message: RenderedMessage): Promise<void>;
  close(): void;
}

/** SMTP when SMTP_URL is set; otherwise each message becomes an .eml file under DATA_DIR/mail. */
export function createMailTransport(options: { smtpUrl?: string; dataDir: string; from: string; hostname?: string }): MailTransport {
  const hostname = options.hostname ?? 'portico.local';
  const envelope = (m: RenderedMessage) => ({
    from: options.from,
    to: m.toAddress,
    subject: m.subject,
    text: m.textBody,
    html: m.htmlBody,
    // The outbox id as Message-ID: a message retried after a crash is recognisable as the same one.
    messageId: `<${m.id}@${hostname}>`,
  });
  if (options.smtpUrl) {
    const transport = nodemailer.createTransport(options.smtpUrl);
    return {
      async send(m) {
        await transport.sendMail(envelope(m));
      },
      close: () => transport.close(),
    };
  }
  const dir = path.join(options.dataDir, 'mail');
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    async send(m) {
      const info = await transport.sendMail(envelope(m));
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, `${m.id}.eml`), info.message as Buffer);
    },
    close: () => transport.close(),
  };
}

/**
 * Sends what is due in the outbox. Each message is leased (so two processes never send it at once),
 * sent, then marked sent; a failure is retried later with backoff and never dropped.
 */
export async function deliverOutbox(db: Knex, views: Eta, transport: MailTransport, logger: Logger, options: { now?: () => Date; batch?: number } = {}): Promise<{ sent: number; failed: number }> {
  const now = options.now ?? (() => new Date());
  let sent = 0;
  let failed = 0;
  for (;;) {
    const batch = await claimDue(db, now(), options.batch ?? 50);
    if (batch.length === 0) break;
    for (const message of batch) {
      try {
        // Rendered here, so a message that cannot be rendered is retried later like one the server refused.
        await transport.send({ ...message, ...renderedBodies(views, message.content) });
        await markSent(db, message.id, now());
        sent++;
      } catch (err) {
        failed++;
        await markFailed(db, message.id, message.attempts + 1, (err as Error).message ?? String(err), now());
        logger.warn({ err, notification: message.id, attempts: message.attempts + 1 }, 'email not sent; will retry');
      }
    }
    if (failed > 0) break; // the server is likely down: wait for the next run rather than hammer it
  }
  return { sent, failed };
}
