import type { Request } from 'express';
import session from 'express-session';
import type { Knex } from 'knex';

type Callback = (err?: unknown, data?: session.SessionData | null) => void;

/** A live session row as read: its data, when the row expires, and what was read with it. */
export interface StoredSession {
  sess: session.SessionData;
  expiresAt: Date;
  /** Read in the same query as the session (the signed-in person, see auth/data.ts). */
  with?: unknown;
}

/** Reads a session that has not expired at `now`; null when there is none. */
export type SessionReader = (sid: string, now: Date) => Promise<StoredSession | null>;

async function readSession(db: Knex, sid: string, now: Date): Promise<StoredSession | null> {
  const row = await db('sessions').where({ sid }).where('expires_at', '>', now).first('sess', 'expires_at');
  return row ? { sess: row.sess, expiresAt: new Date(row.expires_at), with: undefined } : null;
}

/** The stored row behind a session's data, and behind the request's Session made from it. */
const stored = new WeakMap<object, StoredSession>();

/** What the store read together with this request's session, if it was read from the store. */
export function readWithSession(sess: object | undefined): unknown {
  return sess ? stored.get(sess)?.with : undefined;
}

/**
 * express-session store in the `sessions` table, through knex's own connection, so it works on
 * PGlite's single connection and lets several Portico processes share sessions on PostgreSQL.
 * Nothing is kept between requests: every request reads its session row, so a session destroyed
 * or a person disabled by any process is refused at the next request.
 */
export class DatabaseSessionStore extends session.Store {
  private readonly db: Knex;
  private readonly fallbackTtlMs: number;
  private readonly read: SessionReader;

  constructor(db: Knex, fallbackTtlMs: number, read: SessionReader = (sid, now) => readSession(db, sid, now)) {
    super();
    this.db = db;
    this.fallbackTtlMs = fallbackTtlMs;
    this.read = read;
  }

  private expiry(sess: session.SessionData): Date {
    const expires = sess.cookie?.expires;
    return expires ? new Date(expires) : new Date(Date.now() + this.fallbackTtlMs);
  }

  override get(sid: string, cb: Callback): void {
    this.read(sid, new Date()).then((row) => {
      if (!row) return cb(null, null);
      stored.set(row.sess, row);
      cb(null, row.sess);
    }, cb);
  }

  override createSession(req: Request, data: session.SessionData): session.Session & session.SessionData {
    const row = stored.get(data);
    const made = super.createSession(req, data);
    if (row) stored.set(made, row);
    return made;
  }

  override set(sid: string, sess: session.SessionData, cb?: (err?: unknown) => void): void {
    const row = {
      sid,
      sess: JSON.stringify(sess),
      user_id: (sess as { passport?: { user?: string } }).passport?.user ?? null,
      expires_at: this.expiry(sess),
    };
    this.db('sessions')
      .insert(row)
      .onConflict('sid')
      .merge(['sess', 'user_id', 'expires_at'])
      .then(() => cb?.(), (err) => cb?.(err));
  }

  override touch(sid: string, sess: session.SessionData, cb?: (err?: unknown) => void): void {
    // Every page touches the session: the row is rewritten only when its expiry moves by a minute
    // or more, so reading pages does not write a row each time (nor, when this request read the
    // row and knows its expiry, send a statement at all).
    const expiry = this.expiry(sess);
    const known = stored.get(sess)?.expiresAt;
    if (known && expiry.getTime() - known.getTime() < 60_000) return void cb?.();
    this.db('sessions')
      .where({ sid })
      .where('expires_at', '<', new Date(expiry.getTime() - 60_000))
      .update({ expires_at: expiry })
      .then(() => cb?.(), (err) => cb?.(err));
  }

  override destroy(sid: string, cb?: (err?: unknown) => void): void {
    this.db('sessions')
      .where({ sid })
      .delete()
      .then(() => cb?.(), (err) => cb?.(err));
  }
}

/** How many rows a delete touched: a number through pg, a result object through knex-pglite. */
function affected(result: unknown): number {
  if (typeof result === 'number') return result;
  const r = result as { affectedRows?: number; rowCount?: number } | undefined;
  return Number(r?.affectedRows ?? r?.rowCount ?? 0);
}

/** Ends every session of a user (sign-out everywhere, a disabled account). */
export async function destroyUserSessions(db: Knex, userId: string): Promise<number> {
  return affected(await db('sessions').where({ user_id: userId }).delete());
}

export async function deleteExpiredSessions(db: Knex, now: Date): Promise<number> {
  return affected(await db('sessions').where('expires_at', '<=', now).delete());
}
