import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/connect.ts';
import { databaseTarget, openDatabase } from '../../src/db/connect.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { createLogger } from '../../src/log.ts';
import { createMailTransport, deliverOutbox } from '../../src/notifications/mailer.ts';
import { createTestDatabase, testDatabaseKind } from '../support/db.ts';
import { createTestApp, seedDirectory, signIn, testConfig, type TestApp } from '../support/app.ts';
import { cli, cliEnv } from '../support/cli.ts';
import { fabrikam, fabrikamApp, PKG, USER } from '../support/fixtures.ts';
import { clearActivity, policyId, requestId, validWiki } from '../support/flows.ts';

const logger = createLogger('silent');

interface Received {
  to: string[];
  raw: string;
}

/** A real SMTP server on 127.0.0.1, recording what it receives; it can be stopped and started again on its port. */
class TestSmtp {
  received: Received[] = [];
  port = 0;
  private server: SMTPServer | null = null;
  async start(port = 0): Promise<void> {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData: (stream, session, callback) => {
        let raw = '';
        stream.on('data', (d: Buffer) => (raw += d.toString()));
        stream.on('end', () => {
          this.received.push({ to: session.envelope.rcptTo.map((r) => r.address), raw });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', () => resolve()));
    this.port = (this.server as unknown as { server: { address(): { port: number } } }).server.address().port;
  }
  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

let database: Database;
let t: TestApp;
let db: Database['db'];

beforeAll(async () => {
  ({ database, db, t } = await fabrikamApp());
});
afterAll(() => database.close());
beforeEach(async () => {
  await clearActivity(db);
});

async function submitWikiRequest(): Promise<string> {
  const rita = await signIn(t.app, USER.requestor);
  return requestId(rita, PKG.wiki, await policyId(db, PKG.wiki, 'Staff: with approval'), validWiki);
}

describe('email delivery', () => {
  it('sends the outbox over SMTP, once each, with text and HTML', async () => {
    const smtp = new TestSmtp();
    await smtp.start();
    try {
      const id = await submitWikiRequest();
      const transport = createMailTransport({ smtpUrl: `smtp://127.0.0.1:${smtp.port}`, dataDir: t.config.dataDir, from: 'Portico <portico@fabrikam.test>' });
      const result = await deliverOutbox(db, t.services.views, transport, logger);
      transport.close();
      expect(result).toEqual({ sent: 2, failed: 0 });
      expect(smtp.received.map((m) => m.to[0]).sort()).toEqual([USER.manager, USER.requestor]);
      const approver = smtp.received.find((m) => m.to[0] === USER.manager)!.raw;
      expect(approver).toContain('Subject: Action required: Approve or deny request by 29 January 2027');
      expect(approver).toContain('Content-Type: text/plain');
      expect(approver).toContain('Content-Type: text/html');
      expect(approver).toContain(`/@fabrikam.test/approvals/${id}`);
      expect(await db('notifications').whereNull('sent_at').count('* as n')).toEqual([{ n: 0 }]);
      // A second run finds nothing to send.
      const again = await deliverOutbox(db, t.services.views, createMailTransport({ smtpUrl: `smtp://127.0.0.1:${smtp.port}`, dataDir: t.config.dataDir, from: 'x <x@y.z>' }), logger);
      expect(again).toEqual({ sent: 0, failed: 0 });
      expect(smtp.received).toHaveLength(2);
    } finally {
      await smtp.stop();
    }
  });

  it('keeps messages while the SMTP server is down and sends them once it is back, none lost and none twice', async () => {
    const smtp = new TestSmtp();
    await smtp.start();
    const port = smtp.port;
    await smtp.stop();
    await submitWikiRequest();
    const transport = createMailTransport({ smtpUrl: `smtp://127.0.0.1:${port}`, dataDir: t.config.dataDir, from: 'Portico <portico@fabrikam.test>' });
    let now = new Date('2027-01-15T09:00:00Z');
    const down = await deliverOutbox(db, t.services.views, transport, logger, { now: () => now });
    expect(down.sent).toBe(0);
    expect(down.failed).toBeGreaterThan(0);
    const waiting = await db('notifications').whereNull('sent_at').select('attempts', 'next_attempt_at', 'last_error');
    expect(waiting).toHaveLength(2);
    // Too early for the retry: nothing is tried.
    await smtp.start(port);
    try {
      expect(await deliverOutbox(db, t.services.views, transport, logger, { now: () => now })).toEqual({ sent: 0, failed: 0 });
      now = new Date('2027-01-15T09:05:00Z');
      for (let i = 0; i < 3 && Number((await db('notifications').whereNull('sent_at').count('* as n'))[0].n) > 0; i++) {
        await deliverOutbox(db, t.services.views, transport, logger, { now: () => now });
        now = new Date(now.getTime() + 10 * 60_000);
      }
      expect(await db('notifications').whereNull('sent_at').count('* as n')).toEqual([{ n: 0 }]);
      expect(smtp.received).toHaveLength(2);
    } finally {
      transport.close();
      await smtp.stop();
    }
  });

  it('writes .eml files under the data directory when no SMTP server is configured', async () => {
    await submitWikiRequest();
    const transport = createMailTransport({ dataDir: t.config.dataDir, from: 'Portico <portico@fabrikam.test>' });
    expect(await deliverOutbox(db, t.services.views, transport, logger)).toEqual({ sent: 2, failed: 0 });
    const files = readdirSync(path.join(t.config.dataDir, 'mail'));
    expect(files.filter((f) => f.endsWith('.eml'))).toHaveLength(2);
    const all = files.map((f) => readFileSync(path.join(t.config.dataDir, 'mail', f), 'utf8')).join('\n');
    expect(all).toContain('Subject: Your request for Wiki editors was submitted');
  });

  it('sends a message kept with its rendered bodies (written before the outbox kept parts) as it was written', async () => {
    const [{ id }] = await db('notifications')
      .insert({ kind: 'requestSubmitted', to_address: 'old@fabrikam.test', subject: 'Written earlier', text_body: 'Plain words from earlier.', html_body: '<p>Markup from earlier.</p>', created_at: t.clock.now(), next_attempt_at: new Date(0) })
      .returning('id');
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'portico-mail-'));
    try {
      const transport = createMailTransport({ dataDir, from: 'Portico <portico@fabrikam.test>' });
      expect(await deliverOutbox(db, t.services.views, transport, logger)).toEqual({ sent: 1, failed: 0 });
      const eml = readFileSync(path.join(dataDir, 'mail', `${id}.eml`), 'utf8');
      expect(eml).toContain('Subject: Written earlier');
      expect(eml).toContain('Plain words from earlier.');
      expect(eml).toContain('<p>Markup from earlier.</p>');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('retries a message it cannot render later, and sends the others meanwhile', async () => {
    await submitWikiRequest();
    const [{ id: broken }] = await db('notifications')
      .insert({ kind: 'requestSubmitted', to_address: 'broken@fabrikam.test', subject: 'Cannot render', message: JSON.stringify({ subject: 'Cannot render' }), created_at: t.clock.now(), next_attempt_at: new Date(0) })
      .returning('id');
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'portico-mail-'));
    try {
      const transport = createMailTransport({ dataDir, from: 'Portico <portico@fabrikam.test>' });
      expect(await deliverOutbox(db, t.services.views, transport, logger)).toEqual({ sent: 2, failed: 1 });
      const row = await db('notifications').where({ id: broken }).first('sent_at', 'attempts', 'last_error', 'locked_until');
      expect(row).toMatchObject({ sent_at: null, attempts: 1, locked_until: null });
      expect(row.last_error).toBeTruthy();
      expect(readdirSync(path.join(dataDir, 'mail'))).toHaveLength(2);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses an outbox row with neither parts nor bodies, or parts that are not an object', async () => {
    await expect(db('notifications').insert({ kind: 'requestSubmitted', to_address: 'old@fabrikam.test', subject: 'Empty', created_at: t.clock.now(), next_attempt_at: new Date(0) })).rejects.toThrow(/notifications_content/);
    await expect(db('notifications').insert({ kind: 'requestSubmitted', to_address: 'old@fabrikam.test', subject: 'Null', message: 'null', created_at: t.clock.now(), next_attempt_at: new Date(0) })).rejects.toThrow(/notifications_content/);
  });
});

describe('npm run sweep', () => {
  it('applies every rule as of --at, and sends the resulting email', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-sweep-'));
    try {
      const dataDir = path.join(dir, 'data');
      let url: string | undefined;
      let cliDatabase: Database;
      if (testDatabaseKind() === 'postgres') {
        cliDatabase = await createTestDatabase();
        url = cliDatabase.url;
      } else {
        cliDatabase = await openDatabase(databaseTarget(undefined, dataDir));
        await migrateToLatest(cliDatabase.db);
      }
      const config = testConfig({ DATA_DIR: dataDir });
      const app = createTestApp(cliDatabase, { config });
      await seedDirectory(cliDatabase, fabrikam(), app.clock);
      const rita = await signIn(app.app, USER.requestor);
      const id = await requestId(rita, PKG.wiki, await policyId(cliDatabase.db, PKG.wiki, 'Staff: with approval'), validWiki);
      if (testDatabaseKind() === 'pglite') await cliDatabase.close();

      const env = cliEnv({ DATA_DIR: dataDir, ...(url ? { DATABASE_URL: url } : {}) });
      const early = await cli('sweep.ts', ['--at', '2027-01-20T00:00:00Z', '--no-mail'], env);
      expect(early.code, early.stderr).toBe(0);
      expect(JSON.parse(early.stdout)).toMatchObject({ at: '2027-01-20T00:00:00.000Z', requestsExpired: 0 });
      const late = await cli('sweep.ts', ['--at', '2027-01-30T00:00:00Z'], env);
      expect(late.code, late.stderr).toBe(0);
      const report = JSON.parse(late.stdout);
      expect(report.requestsExpired).toBe(1);
      expect(report.mail.sent).toBeGreaterThanOrEqual(3);
      expect(readdirSync(path.join(dataDir, 'mail')).length).toBe(report.mail.sent);
      const bad = await cli('sweep.ts', ['--at', 'yesterday'], env);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('not a date: yesterday');

      const check = testDatabaseKind() === 'postgres' ? cliDatabase : await openDatabase(databaseTarget(undefined, dataDir));
      expect((await check.db('requests').where({ id }).first('state')).state).toBe('expired');
      await check.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
