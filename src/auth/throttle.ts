import type { Knex } from 'knex';

/**
 * Sign-in throttling, per account and per address, kept in the database so that several Portico
 * processes count together. Wall-clock time: it protects the live system, whatever the domain clock.
 */
export const THROTTLE = {
  windowMs: 15 * 60 * 1000,
  lockMs: 15 * 60 * 1000,
  accountFailures: 5,
  addressFailures: 30,
};

export const accountKey = (email: string) => `account:${email.trim().toLowerCase().slice(0, 320)}`;
export const addressKey = (ip: string | undefined) => `address:${ip ?? 'unknown'}`;

/** When the earliest of these keys unlocks, or null if none is locked. */
export async function lockedUntil(db: Knex, keys: string[], now = new Date()): Promise<Date | null> {
  const rows = await db('sign_in_throttle').whereIn('key', keys).where('locked_until', '>', now).select('locked_until');
  if (rows.length === 0) return null;
  return new Date(Math.max(...rows.map((r) => new Date(r.locked_until).getTime())));
}

/** Counts a failure against each key, locking a key that reached its limit within the window. */
export async function recordFailure(db: Knex, keys: { key: string; limit: number }[], now = new Date()): Promise<void> {
  const windowStart = new Date(now.getTime() - THROTTLE.windowMs);
  const lockUntil = new Date(now.getTime() + THROTTLE.lockMs);
  for (const { key, limit } of keys) {
    await db.raw(
      `insert into sign_in_throttle (key, failures, window_started_at, locked_until) values (?, 1, ?, null)
       on conflict (key) do update set
         failures = case when sign_in_throttle.window_started_at < ? then 1 else sign_in_throttle.failures + 1 end,
         window_started_at = case when sign_in_throttle.window_started_at < ? then excluded.window_started_at else sign_in_throttle.window_started_at end,
         locked_until = case
           when (case when sign_in_throttle.window_started_at < ? then 1 else sign_in_throttle.failures + 1 end) >= ? then ?::timestamptz
           else sign_in_throttle.locked_until end`,
      [key, now, windowStart, windowStart, windowStart, limit, lockUntil],
    );
  }
}

export async function clearFailures(db: Knex, key: string): Promise<void> {
  await db('sign_in_throttle').where({ key }).delete();
}
