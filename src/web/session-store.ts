import session from 'express-session';
import type { Knex } from 'knex';

type Callback = (err?: unknown, data?: session.SessionData | null) => void;

/**
 * express-session store in the `sessions` table, through knex's own connection, so it works on
 * PGlite's single connection and lets several Portico processes share sessions on PostgreSQL.
 */
export class DatabaseSessionStore extends session.Store {
  private readonly db: Knex;
  private readonly fallbackTtlMs: number;

  constructor(db: Knex, fallbackTtlMs: number) {
    super();
    this.db = db;
    this.fallbackTtlMs = fallbackTtlMs;
  }

  private expiry(sess: session.SessionData): Date {
    const expires = sess.cookie?.expires;
    return expires ? new Date(expires) : new Date(Date.now() + this.fallbackTtlMs);
  }

  override get(sid: string, cb: Callback): void {
    this.db('sessions')
      .where({ sid })
      .where('expires_at', '>', new Date())
      .first('sess')
      .then((row) => cb(null, row ? (row.sess as session.SessionData) : null), cb);
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
    // or more, so reading pages does not write a row each time.
    const expiry = this.expiry(sess);
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
