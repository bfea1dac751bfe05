import type { Knex } from 'knex';
import { recordAudit, systemActor, type Actor } from '../audit/audit.ts';
import type { CurrentUser } from '../auth/current-user.ts';
import type { Clock } from '../clock.ts';
import { conflict, FieldErrors, notFound } from '../errors.ts';
import type { Notifier } from '../notifications/notifier.ts';
import { serializeKey, toPage, type Page, type PageRequest } from '../shared/keyset.ts';
import {
  allItems,
  decisionsOn,
  endedForReviewer,
  instanceDetails,
  instanceWithProgress,
  itemFor,
  itemsFor,
  nextUndecided,
  ownsCatalog,
  pendingForReviewer,
  type Decision,
  type InstanceDetails,
  type ReviewerProgress,
  type ReviewItem,
  type ReviewListItem,
} from './data.ts';
import { applyInstance, endDueReviews, endInstance, INSTANCE_COLUMNS, type InstanceRow } from './lifecycle.ts';
import { toCsv } from './csv.ts';

const LIST_PAGE_SIZE = 20;
const ITEM_PAGE_SIZE = 25;
export const REASON_MAX = 2000;
const DECISIONS: Decision[] = ['approve', 'deny', 'dontKnow'];

export interface ReviewDecisionInput {
  decision: string;
  justification: string;
}

const notReviewer = () => notFound('Access review not found', 'There is no access review at this address that you are asked to review.');
const notManager = () => notFound('Access review not found', 'There is no access review at this address that you manage.');

export const DECISION_LABELS: Record<Decision, string> = { approve: 'Approve', deny: 'Deny', dontKnow: "Don't know" };

/** The reason written when a reviewer accepts a recommendation in bulk (it satisfies a required reason). */
export function recommendationReason(recommendation: 'approve' | 'deny'): string {
  return recommendation === 'deny' ? 'Accepted the recommendation: no sign-in for 30 days.' : 'Accepted the recommendation: signed in within the last 30 days.';
}

/** A review that has ended, or whose end has come though the sweep has not run yet. */
function endedReview(review: InstanceDetails) {
  return conflict(
    'This review has ended',
    review.state === 'applied'
      ? 'The review ended and its results were applied, so decisions can no longer be changed.'
      : 'The review ended, so decisions can no longer be changed.' + (review.autoApply ? '' : ' An administrator will apply the results.'),
  );
}

export function createReviewService(deps: { db: Knex; clock: Clock; notifier: Notifier }) {
  const { db, clock, notifier } = deps;
  const lifecycleActor = systemActor('lifecycle');

  /** The instance and this reviewer's progress in it, if they review at least one of its items; 404 otherwise (also for other directories). */
  async function reviewerInstance(trx: Knex, user: CurrentUser, instanceId: string): Promise<{ review: InstanceDetails; progress: ReviewerProgress }> {
    const found = await instanceWithProgress(trx, instanceId, user.id);
    if (!found || found.review.directoryId !== user.directory.id || found.progress.total === 0) throw notReviewer();
    return found;
  }

  /** Administrators of the directory; catalog owners for reviews of packages and resources in their catalogs. */
  async function canManage(trx: Knex, user: CurrentUser, review: InstanceDetails): Promise<boolean> {
    if (review.directoryId !== user.directory.id) return false;
    if (user.isAdmin) return true;
    return review.scopeType !== 'group' && !!review.catalogId && (await ownsCatalog(trx, user.id, review.catalogId));
  }

  async function managedInstance(trx: Knex, user: CurrentUser, instanceId: string): Promise<InstanceDetails> {
    const review = await instanceDetails(trx, instanceId);
    if (!review || !(await canManage(trx, user, review))) throw notManager();
    return review;
  }

  /** Locks the instance row and reads it with its own settings and its definition's name (FOR UPDATE to end or apply, FOR SHARE to decide). */
  async function lockInstance(trx: Knex, instanceId: string, mode: 'update' | 'share'): Promise<InstanceRow> {
    const q = trx('access_review_instances as i').join('access_reviews as r', 'r.id', 'i.access_review_id').where('i.id', instanceId).first(INSTANCE_COLUMNS);
    const row = await (mode === 'update' ? q.forUpdate('i') : q.forShare('i'));
    return row as InstanceRow;
  }

  /** The end may have come before the sweep noticed: it wins, as it would have. */
  const endIfDue = (instanceId: string) => db.transaction((trx) => endDueReviews(trx, clock.now(), lifecycleActor, notifier, { instanceId }));

  const isOpen = (review: InstanceDetails, now: Date) => review.state === 'active' && new Date(review.endsAt) > now;

  return {
    async pending(user: CurrentUser, page: PageRequest): Promise<Page<ReviewListItem>> {
      const rows = await pendingForReviewer(db, user.id, clock.now(), page, LIST_PAGE_SIZE);
      return toPage(rows, LIST_PAGE_SIZE, page, (r) => [serializeKey(r.endsAt), r.instanceId]);
    },

    async ended(user: CurrentUser, page: PageRequest): Promise<Page<ReviewListItem>> {
      const rows = await endedForReviewer(db, user.id, page, LIST_PAGE_SIZE);
      return toPage(rows, LIST_PAGE_SIZE, page, (r) => [serializeKey(r.endedAt), r.instanceId]);
    },

    /** A review as one of its reviewers sees it: only their own items. */
    async view(user: CurrentUser, instanceId: string, page: PageRequest) {
      const { review, progress } = await reviewerInstance(db, user, instanceId);
      const rows = await itemsFor(db, instanceId, user.id, page, ITEM_PAGE_SIZE);
      const items = toPage(rows, ITEM_PAGE_SIZE, page, (r) => [r.sortName, r.id]);
      return { review, items, progress, canDecide: isOpen(review, clock.now()) };
    },

    /** One item, if this person reviews it. */
    async item(user: CurrentUser, instanceId: string, itemId: string) {
      const { review, progress } = await reviewerInstance(db, user, instanceId);
      const item = await itemFor(db, instanceId, itemId, user.id);
      if (!item) throw notReviewer();
      return {
        review,
        item,
        decisions: await decisionsOn(db, itemId),
        progress,
        next: await nextUndecided(db, instanceId, user.id, { sortName: item.sortName, id: item.id }),
        canDecide: isOpen(review, clock.now()),
      };
    },

    /**
     * Records a decision (Approve, Deny, Don't know) with its reason. The instance is held FOR
     * SHARE while the decision is written, so ending or stopping the review (FOR UPDATE) happens
     * entirely before or entirely after it: a decision that loses the race gets a 409.
     */
    async decide(user: CurrentUser, instanceId: string, itemId: string, input: ReviewDecisionInput, actor: Actor): Promise<{ review: InstanceDetails; item: ReviewItem; decision: Decision }> {
      await endIfDue(instanceId);
      const decision = DECISIONS.find((d) => d === input.decision) ?? null;
      const justification = input.justification.trim();
      await db.transaction(async (trx) => {
        const now = clock.now();
        const { review } = await reviewerInstance(trx, user, instanceId);
        const locked = await lockInstance(trx, instanceId, 'share');
        const item = await itemFor(trx, instanceId, itemId, user.id);
        if (!item) throw notReviewer();
        if (locked.state !== 'active' || new Date(locked.ends_at) <= now) throw endedReview({ ...review, state: locked.state });

        const errors = new FieldErrors();
        const self = review.reviewerType === 'self';
        if (!decision || (self && decision === 'dontKnow')) errors.add('decision', self ? 'Choose Yes or No' : "Choose Approve, Deny or Don't know", '#decision');
        if (review.requireJustification && !justification) errors.add('justification', self ? 'Enter a reason for your answer' : 'Enter a reason for your decision');
        else if (justification.length > REASON_MAX) errors.add('justification', `Reason must be ${REASON_MAX.toLocaleString('en-GB')} characters or fewer`);
        errors.throwIfAny();

        await trx('access_review_items').where({ id: itemId }).update({ decision, decided_by_id: user.id, decided_at: now, justification: justification || null });
        await trx('access_review_decisions').insert({ item_id: itemId, reviewer_id: user.id, decision, justification: justification || null, decided_at: now });
        await recordAudit(trx, actor, {
          action: item.decision ? 'accessReview.decisionChanged' : 'accessReview.decided',
          at: now,
          targetType: 'accessReviewItem',
          targetId: itemId,
          details: { instanceId, userId: item.subjectUserId, access: item.accessLabel, decision, previous: item.decision, justification: justification || null },
        });
      });
      const review = (await instanceDetails(db, instanceId))!;
      const item = (await itemFor(db, instanceId, itemId, user.id))!;
      return { review, item, decision: decision! };
    },

    /** Every undecided item of this reviewer that carries a recommendation takes it, in one statement. */
    async acceptRecommendations(user: CurrentUser, instanceId: string, actor: Actor): Promise<{ review: InstanceDetails; accepted: number }> {
      await endIfDue(instanceId);
      const accepted = await db.transaction(async (trx) => {
        const now = clock.now();
        const { review } = await reviewerInstance(trx, user, instanceId);
        const locked = await lockInstance(trx, instanceId, 'share');
        if (locked.state !== 'active' || new Date(locked.ends_at) <= now) throw endedReview({ ...review, state: locked.state });
        if (!review.showRecommendations) throw conflict('This review has no recommendations', 'Decide on each person’s access yourself.');
        const rows = (await trx.raw(
          `update access_review_items it set
             decision = it.recommendation, decided_by_id = ?, decided_at = ?,
             justification = case it.recommendation when 'deny' then ? else ? end
           where it.instance_id = ? and it.decision is null and it.recommendation is not null
             and exists (select 1 from access_review_item_reviewers x where x.item_id = it.id and x.user_id = ?)
           returning it.id, it.decision, it.justification, it.subject_user_id`,
          [user.id, now, recommendationReason('deny'), recommendationReason('approve'), instanceId, user.id],
        )).rows as { id: string; decision: Decision; justification: string; subject_user_id: string }[];
        for (let i = 0; i < rows.length; i += 1000) {
          await trx('access_review_decisions').insert(rows.slice(i, i + 1000).map((r) => ({ item_id: r.id, reviewer_id: user.id, decision: r.decision, justification: r.justification, decided_at: now })));
        }
        if (rows.length) {
          await recordAudit(trx, actor, {
            action: 'accessReview.recommendationsAccepted',
            at: now,
            targetType: 'accessReviewInstance',
            targetId: instanceId,
            details: { items: rows.length, approved: rows.filter((r) => r.decision === 'approve').length, denied: rows.filter((r) => r.decision === 'deny').length },
          });
        }
        return rows.length;
      });
      return { review: (await instanceDetails(db, instanceId))!, accepted };
    },

    /** An administrator (or the catalog owner) ends an active review now; with autoApply its results are applied at once. */
    async stopReview(user: CurrentUser, instanceId: string, actor: Actor): Promise<InstanceDetails> {
      await db.transaction(async (trx) => {
        await managedInstance(trx, user, instanceId);
        const locked = await lockInstance(trx, instanceId, 'update');
        if (locked.state !== 'active') throw conflict('This review has already ended', locked.state === 'applied' ? 'Its results were applied.' : 'Its results are waiting to be applied.');
        await endInstance(trx, locked, clock.now(), actor, notifier, 'stopped');
      });
      return (await instanceDetails(db, instanceId))!;
    },

    /** An administrator applies the results of an ended review that does not apply them itself. */
    async applyResults(user: CurrentUser, instanceId: string, actor: Actor): Promise<{ review: InstanceDetails; kept: number; removed: number }> {
      await endIfDue(instanceId);
      const result = await db.transaction(async (trx) => {
        await managedInstance(trx, user, instanceId);
        const locked = await lockInstance(trx, instanceId, 'update');
        if (locked.state === 'active') throw conflict('This review has not ended', 'Stop the review, or wait for its end, before applying its results.');
        if (locked.state === 'applied') throw conflict('These results were already applied', 'Nothing was changed.');
        return applyInstance(trx, locked, clock.now(), actor, notifier);
      });
      return { review: (await instanceDetails(db, instanceId))!, ...result };
    },

    /**
     * The results as CSV: a reviewer gets the rows they review; administrators and owners of the
     * catalog get every row. Anyone else: 404.
     */
    async resultsCsv(user: CurrentUser, instanceId: string): Promise<{ filename: string; csv: string }> {
      const found = await instanceWithProgress(db, instanceId, user.id);
      if (!found || found.review.directoryId !== user.directory.id) throw notReviewer();
      const { review, progress } = found;
      let reviewerId: string | null = user.id;
      if (await canManage(db, user, review)) reviewerId = null;
      else if (progress.total === 0) throw notReviewer();
      const items = await allItems(db, instanceId, reviewerId);
      const iso = (d: Date | string | null) => (d ? new Date(d).toISOString() : '');
      const header = ['Review', 'Review start', 'Review end', 'Person', 'Email', 'Access', 'Access since', 'Last sign-in', 'Recommendation', 'Decision', 'Reviewed by', 'Reviewed at', 'Reason', 'Outcome', 'Applied at'];
      const rows = items.map((it) => [
        review.name,
        iso(review.startsAt),
        iso(review.endedAt ?? review.endsAt),
        it.subjectName,
        it.subjectEmail,
        it.accessLabel,
        iso(it.accessSince),
        iso(it.lastSignInAt),
        it.recommendation ? DECISION_LABELS[it.recommendation] : '',
        it.decision ? DECISION_LABELS[it.decision] : 'Not reviewed',
        it.decidedByName ?? '',
        iso(it.decidedAt),
        it.justification ?? '',
        it.outcome === 'removed' ? 'Access removed' : it.outcome === 'kept' ? 'Access kept' : '',
        iso(it.appliedAt),
      ]);
      const slug = review.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'access-review';
      return { filename: `${slug}-${iso(review.startsAt).slice(0, 10)}.csv`, csv: toCsv([header, ...rows]) };
    },
  };
}

export type ReviewService = ReturnType<typeof createReviewService>;
