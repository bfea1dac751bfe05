import type { Knex } from 'knex';
import type { CurrentUser } from '../auth/current-user.ts';
import type { Clock } from '../clock.ts';
import { overviewCounts } from './data.ts';

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
    /** What needs the person now: one count per card, each from one indexed query, all in one statement. */
    async summary(user: CurrentUser): Promise<OverviewSummary> {
      const c = await overviewCounts(db, user.id, clock.now(), ENDING_SOON_DAYS);
      const summary = {
        approvals: { count: c.approvals, oldestDue: c.approvalsOldestDue },
        reviews: { count: c.reviews, items: c.reviewItems, soonestEnd: c.reviewsSoonestEnd },
        requests: { count: c.requests, oldestSubmitted: c.requestsOldestSubmitted },
        ending: { count: c.ending, soonestEnd: c.endingSoonest },
      };
      return { ...summary, nothingToDo: c.approvals + c.reviews + c.requests + c.ending === 0 };
    },
  };
}

export type OverviewService = ReturnType<typeof createOverviewService>;
