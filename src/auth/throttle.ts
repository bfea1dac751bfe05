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

/**
 * Takes one attempt from each key's allowance before the password is checked, in one transaction, so
 * that however many attempts arrive at once, at most `limit` passwords are checked per key and window.
 * Each key's row is counted and locked in one statement: the attempt that reaches the limit locks the
 * key, and a locked key refuses. Returns when the locks on these keys end (reserving nothing), or null.
 */
export async function reserveAttempt(db: Knex, keys: { key: string; limit: number }[], now = new Date()): Promise<Date | null> {
  const windowStart = new Date(now.getTime() - THROTTLE.windowMs);
  const lockUntil = new Date(now.getTime() + THROTTLE.lockMs);
  const trx = await db.transaction();
  try {
    for (const { key, limit } of keys) {
      const { rows } = await trx.raw(
        `insert into sign_in_throttle as t (key, failures, window_started_at, locked_until)
         values (:key, 1, :now, case when 1 >= :limit then :lockUntil::timestamptz end)
         on conflict (key) do update set
           failures = case when t.window_started_at < :windowStart then 1 else t.failures + 1 end,
           window_started_at = case when t.window_started_at < :windowStart then excluded.window_started_at else t.window_started_at end,
           locked_until = case
             when (case when t.window_started_at < :windowStart then 1 else t.failures + 1 end) >= :limit then :lockUntil::timestamptz
             else t.locked_until end
         where t.locked_until is null or t.locked_until <= :now
         returning key`,
        { key, now, limit, lockUntil, windowStart },
      );
      if (rows.length === 0) {
        // Locked. The wait shown is until every lock on these keys has ended (the account's and the address's).
        const { until } = await trx('sign_in_throttle').whereIn('key', keys.map((k) => k.key)).where('locked_until', '>', now).first(trx.raw('max(locked_until) as until'));
        await trx.rollback();
        return new Date(until);
      }
    }
    await trx.commit();
    return null;
  } catch (e) {
    if (!trx.isCompleted()) await trx.rollback();
    throw e;
  }
}

/** Gives back an attempt that succeeded, so it no longer counts against the key (nor keeps it locked). */
export async function releaseAttempt(db: Knex, key: string, limit: number): Promise<void> {
  await db('sign_in_throttle').where({ key }).update({
    failures: db.raw('greatest(failures - 1, 0)'),
    locked_until: db.raw('case when failures - 1 < ? then null else locked_until end', [limit]),
  });
}

export async function clearFailures(db: Knex, key: string): Promise<void> {
  await db('sign_in_throttle').where({ key }).delete();
}
