import type { Knex } from 'knex';
import { systemActor } from '../audit/audit.ts';
import { endDueAssignments, remindEndingAssignments, startDueAssignments } from '../assignments/lifecycle.ts';
import { BATCH, escalateDueStages, expireDueStages, remindApprovers } from '../approvals/lifecycle.ts';
import type { Logger } from '../log.ts';
import { deferNotifications, queueDeferredNotifications } from '../notifications/deferred.ts';
import type { Notifier } from '../notifications/notifier.ts';
import { endDueReviews, remindReviewers, REVIEW_BATCH, startDueReviews } from '../reviews/lifecycle.ts';
import { allFinished } from '../shared/collections.ts';
import { deleteExpiredSessions } from '../web/session-store.ts';

export interface SweepReport {
  requestsExpired: number;
  requestsEscalated: number;
  approverRemindersSent: number;
  assignmentsStarted: number;
  assignmentsEnded: number;
  remindersWritten: number;
  reviewsEnded: number;
  reviewsStarted: number;
  reviewRemindersSent: number;
  sessionsDeleted: number;
}

export interface SweepDeps {
  db: Knex;
  notifier: Notifier;
  logger: Logger;
}

const actor = systemActor('lifecycle');

const MAX_BATCHES_PER_RUN = 100;

/**
 * Runs a step in batches, each in its own transaction, until a batch comes back short (or the run's
 * share is done). Steps that claim their rows FOR UPDATE SKIP LOCKED may run on several connections
 * at once (`workers`), each taking the next batch the others have not.
 */
async function inBatches(db: Knex, step: (trx: Knex) => Promise<number>, options: { size?: number; workers?: number } = {}): Promise<number> {
  const size = options.size ?? BATCH;
  let batches = 0;
  let total = 0;
  const worker = async () => {
    while (batches < MAX_BATCHES_PER_RUN) {
      batches++;
      const n = await db.transaction(step);
      total += n;
      if (n < size) return;
    }
  };
  await allFinished(...Array.from({ length: options.workers ?? 1 }, worker));
  return total;
}

/**
 * Applies every time-based rule as of `now`: deadlines, escalations, approvers' reminders,
 * scheduled starts, ends, reminders, and access reviews (ends with their results, new instances, midpoint reminders). Idempotent (a second run at the same moment changes nothing) and safe to run in
 * several processes at once (rows are claimed with FOR UPDATE SKIP LOCKED), so it uses several
 * connections itself: requests are swept beside assignments and reviews, and the large steps take
 * two batches at a time. Assignments and reviews keep their order (an assignment that starts and
 * ends by `now` does both).
 *
 * The emails for expired requests, approvers reminded or forwarded a stage, and access that starts
 * or ends are left as events, written with each change: sweepAndQueueEmails (what the scheduler
 * runs) turns them into messages once the changes are made (notifications/deferred.ts).
 */
export async function runSweep(deps: SweepDeps, now: Date): Promise<SweepReport> {
  const { db } = deps;
  const notifier = deferNotifications(deps.notifier, now);
  const claimed = { workers: 2 };
  const [requests, assignmentsAndReviews] = await allFinished(
    (async () => ({
      requestsExpired: await inBatches(db, (trx) => expireDueStages(trx, now, actor, notifier), claimed),
      requestsEscalated: await inBatches(db, (trx) => escalateDueStages(trx, now, actor, notifier), claimed),
      approverRemindersSent: await inBatches(db, (trx) => remindApprovers(trx, now, notifier), claimed),
    }))(),
    (async () => ({
      assignmentsStarted: await inBatches(db, (trx) => startDueAssignments(trx, now, actor, notifier), claimed),
      assignmentsEnded: await inBatches(db, (trx) => endDueAssignments(trx, now, actor, notifier), claimed),
      remindersWritten: await inBatches(db, (trx) => remindEndingAssignments(trx, now, notifier)),
      // Access that ended by its date is not also removed by a review ending at the same moment.
      // A review's instance ends (and applies) before the next one starts, so the next sees what the last removed.
      reviewsEnded: await inBatches(db, (trx) => endDueReviews(trx, now, actor, notifier), { size: REVIEW_BATCH }),
      reviewsStarted: await inBatches(db, (trx) => startDueReviews(trx, now, actor, notifier), { size: REVIEW_BATCH }),
      reviewRemindersSent: await inBatches(db, (trx) => remindReviewers(trx, now, notifier), { size: REVIEW_BATCH }),
    }))(),
  );
  return { ...requests, ...assignmentsAndReviews, sessionsDeleted: await deleteExpiredSessions(db, new Date()) };
}

/**
 * The sweep, then the emails it left as events written to the outbox (see runSweep). They are
 * written even when a step of the sweep failed: what the other steps committed is still told.
 */
export async function sweepAndQueueEmails(deps: SweepDeps, now: Date): Promise<SweepReport> {
  const swept = await runSweep(deps, now).then((report) => ({ report }), (error: unknown) => ({ error }));
  const queued = await queueDeferredNotifications(deps.db, deps.notifier, deps.logger).then(() => null, (error: unknown) => ({ error }));
  if ('error' in swept) {
    if (queued) deps.logger.error({ err: queued.error }, 'emails for the lifecycle sweep not written; will retry');
    throw swept.error;
  }
  if (queued) throw queued.error;
  return swept.report;
}

export interface Scheduler {
  /** Runs once now (and waits for a run already going). */
  runNow(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Runs the sweep, then sends due email, every `intervalSeconds` inside the server. Runs never
 * overlap; stop() waits for the current one, so SIGTERM leaves nothing half done.
 */
export function startScheduler(deps: SweepDeps & { clock: { now(): Date }; deliver: () => Promise<unknown>; intervalSeconds: number }): Scheduler {
  let running: Promise<void> | null = null;
  let stopped = false;
  const run = () => {
    if (stopped) return Promise.resolve();
    running ??= (async () => {
      try {
        const report = await sweepAndQueueEmails(deps, deps.clock.now());
        if (Object.values(report).some((n) => n > 0)) deps.logger.info({ sweep: report }, 'lifecycle sweep');
        await deps.deliver();
      } catch (err) {
        deps.logger.error({ err }, 'lifecycle sweep failed; will retry on the next run');
      } finally {
        running = null;
      }
    })();
    return running;
  };
  const timer = deps.intervalSeconds > 0 ? setInterval(run, deps.intervalSeconds * 1000) : null;
  timer?.unref();
  // The first run right away: what fell due while Portico was down (and the demo's reviews) should not wait a whole interval.
  if (timer) setImmediate(() => void run());
  return {
    runNow: run,
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      await running;
    },
  };
}
