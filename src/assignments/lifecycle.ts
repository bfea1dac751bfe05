import type { Knex } from 'knex';
import { recordAuditMany, type Actor } from '../audit/audit.ts';
import { addDays } from '../clock.ts';
import { BATCH } from '../approvals/lifecycle.ts';
import type { Notifier } from '../notifications/notifier.ts';
import { grantResourceRoles } from './delivery.ts';

/**
 * Claims up to `limit` assignments in `state` that fall due by `now` (FOR UPDATE SKIP LOCKED, so
 * processes sweeping at once take different rows) and changes them in the same statement. The
 * claim is a materialized CTE, so it runs once whatever plan the update gets.
 */
function claimDue(trx: Knex, state: 'scheduled' | 'delivered', due: 'starts_at' | 'ends_at', now: Date, limit: number, change: Record<string, unknown>) {
  return trx
    .withMaterialized('claimed', (q) => q.from('assignments').where('state', state).where(due, '<=', now).orderBy(due).limit(limit).forUpdate().skipLocked().select('id'))
    .from('assignments')
    .whereIn('id', trx.select('id').from('claimed'))
    .update(change)
    .returning(['id', 'request_id', 'directory_id']) as Promise<{ id: string; request_id: string | null; directory_id: string }[]>;
}

/** Scheduled assignments whose start has come are delivered with their grants (and their requests with them). */
export async function startDueAssignments(trx: Knex, now: Date, actor: Actor, notifier: Notifier, options: { limit?: number } = {}): Promise<number> {
  const due = await claimDue(trx, 'scheduled', 'starts_at', now, options.limit ?? BATCH, { state: 'delivered', updated_at: now });
  if (due.length === 0) return 0;
  const ids = due.map((a) => a.id);
  await grantResourceRoles(trx, ids, now);
  const requestIds = due.flatMap((a) => (a.request_id ? [a.request_id] : []));
  if (requestIds.length) await trx('requests').whereRaw('id = any(?::uuid[])', [requestIds]).where('state', 'scheduled').update({ state: 'delivered', updated_at: now });
  await recordAuditMany(
    trx,
    actor,
    [
      ...due.map((a) => ({ action: 'assignment.started', targetType: 'assignment', targetId: a.id, directoryId: a.directory_id })),
      ...due.filter((a) => a.request_id).map((a) => ({ action: 'request.delivered', targetType: 'request', targetId: a.request_id!, directoryId: a.directory_id })),
    ],
    now,
  );
  await notifier.accessGranted(trx, ids);
  return due.length;
}

/** Delivered assignments whose end has come are Expired ("Access expired"), their grants revoked. */
export async function endDueAssignments(trx: Knex, now: Date, actor: Actor, notifier: Notifier, options: { limit?: number } = {}): Promise<number> {
  const due = await claimDue(trx, 'delivered', 'ends_at', now, options.limit ?? BATCH, { state: 'expired', ended_at: now, end_reason: 'expired', updated_at: now });
  if (due.length === 0) return 0;
  const ids = due.map((a) => a.id);
  await trx('assignment_grants').whereRaw('assignment_id = any(?::uuid[])', [ids]).whereNull('revoked_at').update({ revoked_at: now });
  await recordAuditMany(
    trx,
    actor,
    [
      ...due.map((a) => ({ action: 'assignment.expired', targetType: 'assignment', targetId: a.id, directoryId: a.directory_id })),
      ...due.filter((a) => a.request_id).map((a) => ({ action: 'request.accessEnded', targetType: 'request', targetId: a.request_id!, directoryId: a.directory_id })),
    ],
    now,
  );
  await notifier.accessEnded(trx, ids, 'its end date has passed.');
  return due.length;
}

/**
 * Access ending within 14 days, and within 1 day, gets one reminder each. The outbox's dedupe key
 * (the assignment and its end) keeps each reminder to one message however often the sweep runs;
 * an end moved later (by an import) is reminded of again.
 */
export async function remindEndingAssignments(trx: Knex, now: Date, notifier: Notifier, options: { limit?: number } = {}): Promise<number> {
  let reminded = 0;
  for (const days of [14, 1] as const) {
    const due: string[] = await trx('assignments as a')
      // Disabled people get no email, so no reminder would ever be recorded for them: left in, they
      // would come back every run and, thousands of them, crowd out everyone else's reminders.
      .join('users as u', 'u.id', 'a.user_id')
      .whereNull('u.disabled_at')
      .where('a.state', 'delivered')
      .whereNotNull('a.ends_at')
      .where('a.ends_at', '>', now)
      .where('a.ends_at', '<=', addDays(now, days))
      // Only access that lasts longer than the reminder window: a 2-day assignment needs no 14-day reminder.
      .whereRaw('a.ends_at - a.starts_at > ?::interval', [`${days} days`])
      .whereNotExists(function () {
        // Keys without the end were written before the end was part of them.
        this.select(trx.raw('1')).from('notifications as n').whereRaw(
          `n.dedupe_key in ('accessEndingSoon:${days}:' || a.id::text || ':' || floor(extract(epoch from a.ends_at))::bigint::text, 'accessEndingSoon:${days}:' || a.id::text)`,
        );
      })
      .limit(options.limit ?? BATCH)
      .pluck('a.id');
    if (due.length) await notifier.accessEndingSoon(trx, due, days);
    reminded += due.length;
  }
  return reminded;
}
