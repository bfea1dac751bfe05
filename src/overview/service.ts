import type { Knex } from 'knex';
import { countPendingForApprover } from '../approvals/data.ts';
import type { CurrentUser } from '../auth/current-user.ts';
import { addDays, type Clock } from '../clock.ts';
import { isOpenSql } from '../requests/states.ts';
import { countToReview } from '../reviews/data.ts';

export const ENDING_SOON_DAYS = 14;

export interface OverviewSummary {
  /** Request stages waiting for this approver; the soonest deadline is the one to act on first. */
  approvals: { count: number; oldestDue: Date | null };
  /** Active reviews with items this reviewer has not decided yet. */
  reviews: { count: number; items: number; soonestEnd: Date | null };
  /** This person's own requests that are still open. */
  requests: { count: number; oldestSubmitted: Date | null };
  /** This person's access that ends within the next 14 days. */
  ending: { count: number; soonestEnd: Date | null };
  nothingToDo: boolean;
}

export function createOverviewService(deps: { db: Knex; clock: Clock }) {
  const { db, clock } = deps;
  return {
    /** What needs the person now: one count per card, each from one indexed query. */
    async summary(user: CurrentUser): Promise<OverviewSummary> {
      const now = clock.now();
      // Four independent counts, sent at once (on PostgreSQL over four connections).
      const [approvals, reviews, requests, ending] = await Promise.all([
        countPendingForApprover(db, user.id),
        countToReview(db, user.id, now),
        db('requests as r').where('r.target_user_id', user.id).whereRaw(isOpenSql('r')).first(
          db.raw('count(*)::int as count'),
          db.raw('min(submitted_at) as oldest'),
        ),
        db('assignments')
          .where('user_id', user.id)
          .whereRaw("state = 'delivered'") // in the text, so a generic plan can use the partial index assignments_ending
          .where('ends_at', '>', now)
          .where('ends_at', '<=', addDays(now, ENDING_SOON_DAYS))
          .first(db.raw('count(*)::int as count'), db.raw('min(ends_at) as soonest')),
      ]);
      const summary = {
        approvals,
        reviews: { count: reviews.reviews, items: reviews.items, soonestEnd: reviews.soonestEnd },
        requests: { count: Number(requests?.count ?? 0), oldestSubmitted: requests?.oldest ? new Date(requests.oldest) : null },
        ending: { count: Number(ending?.count ?? 0), soonestEnd: ending?.soonest ? new Date(ending.soonest) : null },
      };
      return { ...summary, nothingToDo: summary.approvals.count + summary.reviews.count + summary.requests.count + summary.ending.count === 0 };
    },
  };
}

export type OverviewService = ReturnType<typeof createOverviewService>;
