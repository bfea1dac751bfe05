import type { Knex } from 'knex';
import { jsonParameter } from '../db/json.ts';
import type { Logger } from '../log.ts';
import { allFinished } from '../shared/collections.ts';
import type { Notifier } from './notifier.ts';
import { nextAttempt } from './outbox.ts';

type AskedItem = Parameters<Notifier['approvalReminders']>[1][number];

/**
 * Of the approvers a sweep asked to decide (reminded, or forwarded a stage), those still asked when
 * the messages are written: "Action required" must not come after the request was decided,
 * canceled or expired in the meantime. The deadline comes back from JSON as text.
 */
async function stillAsked(trx: Knex, items: AskedItem[]): Promise<AskedItem[]> {
  const open: { request_id: string; position: number; user_id: string }[] = await trx('request_stages as s')
    .join('request_stage_approvers as a', 'a.stage_id', 's.id')
    .whereRaw('s.request_id = any(?::uuid[])', [items.map((i) => i.requestId)])
    .whereRaw("s.state = 'pending' and a.open")
    // Held until the messages are written: a decision under way finishes first (and is seen here),
    // or waits for them, so its own email comes after "Action required", never before.
    .forShare('s')
    .select('s.request_id', 's.position', 'a.user_id');
  const asked = new Set(open.map((o) => `${o.request_id}:${o.position}:${o.user_id}`));
  return items
    .map((i) => ({ ...i, dueAt: new Date(i.dueAt), approverIds: i.approverIds.filter((id) => asked.has(`${i.requestId}:${i.stage}:${id}`)) }))
    .filter((i) => i.approverIds.length > 0);
}

/**
 * The notifier calls a sweep makes for thousands of people at once, and how to make each again from
 * its arguments as stored (JSON). Not among them: reminders of access ending soon (the sweep finds
 * who still needs one by the messages already written).
 */
const replays = {
  requestsExpired: (n: Notifier, trx: Knex, [items]: unknown[]) => n.requestsExpired(trx, items as Parameters<Notifier['requestsExpired']>[1]),
  // Access removed since it started (by an administrator, or by its end in the same sweep) was told
  // it ended: "You now have access" would come after that.
  accessGranted: async (n: Notifier, trx: Knex, [ids]: unknown[]) =>
    n.accessGranted(trx, await trx('assignments').whereRaw('id = any(?::uuid[])', [ids as string[]]).where('state', 'delivered').pluck('id')),
  accessEnded: (n: Notifier, trx: Knex, [ids, reason]: unknown[]) => n.accessEnded(trx, ids as string[], reason as string),
  approvalReminders: async (n: Notifier, trx: Knex, [items]: unknown[]) => n.approvalReminders(trx, await stillAsked(trx, items as AskedItem[])),
  requestsForwarded: async (n: Notifier, trx: Knex, [items]: unknown[]) => n.requestsForwarded(trx, await stillAsked(trx, items as AskedItem[])),
} satisfies Record<string, (n: Notifier, trx: Knex, args: unknown[]) => Promise<void>>;

type DeferredKind = keyof typeof replays;

const isDeferred = (kind: string): kind is DeferredKind => Object.hasOwn(replays, kind);

/**
 * The notifier as the sweep uses it: its batch calls write one event row each, in the caller's
 * transaction, instead of a message per person; queueDeferredNotifications writes those messages
 * afterwards. Everything else goes straight through.
 */
export function deferNotifications(notifier: Notifier, now: Date): Notifier {
  const later = (kind: DeferredKind) => async (trx: Knex, ...args: unknown[]) => {
    if (Array.isArray(args[0]) && args[0].length === 0) return;
    await trx('notification_events').insert({ kind, args: trx.raw('?::jsonb', [jsonParameter(args)]), created_at: now, next_attempt_at: new Date() });
  };
  const deferred = Object.fromEntries(Object.keys(replays).map((kind) => [kind, later(kind as DeferredKind)]));
  return { ...notifier, ...deferred } as Notifier;
}

/**
 * Turns the events the sweep left into outbox messages, one event per transaction: the event is
 * deleted in the transaction that writes its messages, so a crash writes them later, never twice.
 * Several processes may run this at once (SKIP LOCKED). An event that fails is retried later with
 * backoff, like an email the server refused, and the others go on. Two events at a time by default.
 * Returns how many events were done.
 */
export async function queueDeferredNotifications(db: Knex, notifier: Notifier, logger: Logger, options: { workers?: number; now?: () => Date } = {}): Promise<number> {
  const now = options.now ?? (() => new Date());
  let done = 0;
  const worker = async () => {
    for (;;) {
      const claimed = await db.transaction(async (trx) => {
        const event = await trx('notification_events')
          .where('next_attempt_at', '<=', now())
          .orderBy('id')
          .forUpdate()
          .skipLocked()
          .first('id', 'kind', 'args', 'attempts');
        if (!event) return false;
        try {
          if (!isDeferred(event.kind)) throw new Error(`no notification is made from an event of kind ${event.kind}`);
          // A savepoint: an event that fails leaves none of its messages, and its retry is still recorded.
          await trx.transaction((messages) => replays[event.kind as DeferredKind](notifier, messages, event.args));
          await trx('notification_events').where({ id: event.id }).delete();
          done++;
        } catch (err) {
          const attempts = event.attempts + 1;
          logger.error({ err, notificationEvent: event.id, kind: event.kind, attempts }, 'emails for a lifecycle change not written; will retry');
          await trx('notification_events')
            .where({ id: event.id })
            .update({ attempts, last_error: String((err as Error).message ?? err).slice(0, 1000), next_attempt_at: nextAttempt(now(), attempts) });
        }
        return true;
      });
      if (!claimed) return;
    }
  };
  await allFinished(...Array.from({ length: options.workers ?? 2 }, worker));
  return done;
}
