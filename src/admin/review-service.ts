import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { recordAudit, systemActor, type Actor } from '../audit/audit.ts';
import { addDays, DAY_MS, type Clock } from '../clock.ts';
import { conflict, ValidationFailed, type FieldError } from '../errors.ts';
import { dayTime, type Notifier } from '../notifications/notifier.ts';
import { endDueReviews, startReviewNow } from '../reviews/lifecycle.ts';
import { instanceEnd, latestOccurrence, MIN_PERIOD_DAYS, occurrence, type Recurrence } from '../reviews/schedule.ts';
import { createReviewService } from '../reviews/service.ts';
import { editDirectory, located, type EditableFile } from './directory-edit.ts';
import { instanceOfReview, instancesOf, latestInstance, reviewInScope, reviewsInScope, scopeChoices, type InstanceRowCounts, type ReviewDefinitionRow } from './review-data.ts';
import { adminNotFound, type AdminScope } from './scope.ts';

/** The review form as typed: every field of `accessReviews[]` in the directory file. */
export interface ReviewInput {
  name: string;
  description: string;
  /** `accessPackage:<id>`, `group:<key>` or `resource:<key>`; '' when nothing was chosen. */
  scope: string;
  reviewerType: string;
  fallbackReviewers: string[];
  specificReviewers: string[];
  /** A date (2027-03-01) as typed; the import reads it. */
  startsOn: string;
  durationDays: string;
  recurrence: string;
  ifNoResponse: string;
  autoApply: boolean;
  requireJustification: boolean;
  showRecommendations: boolean;
}

export interface ScopeOption {
  value: string;
  label: string;
  group: string;
}

type FileReview = EditableFile['accessReviews'][number];

/** Instances shown on a review's page (the most recent). */
const INSTANCE_LIMIT = 50;
const LIST_LIMIT = 1000;

const LABELS: Record<string, string> = {
  name: 'Name',
  description: 'Description',
  startsOn: 'Start date',
  durationDays: 'Duration in days',
  recurrence: 'Repeat',
  ifNoResponse: 'If reviewers do not respond',
  autoApply: 'Apply results automatically',
  requireJustification: 'Require a reason',
  showRecommendations: 'Show recommendations',
};

/** Which field of the review form a problem the import reports at `accessReviews[i].<suffix>` belongs to. */
export function reviewFieldFor(suffix: string): { field: string; label: string } | undefined {
  if (/^scope\b/.test(suffix)) return { field: 'scope', label: 'What to review' };
  if (/^reviewers\.fallback\b/.test(suffix)) return { field: 'fallbackReviewers', label: 'Fallback reviewers' };
  if (/^reviewers\.users\b/.test(suffix)) return { field: 'specificReviewers', label: 'Specific reviewers' };
  if (/^reviewers\b/.test(suffix)) return { field: 'reviewerType', label: 'Reviewers' };
  const field = suffix.replace(/[.[].*$/, '');
  return LABELS[field] ? { field, label: LABELS[field] } : undefined;
}

export const scopeValue = (r: Pick<ReviewDefinitionRow, 'scopeType' | 'scopeRef'>): string => (r.scopeRef ? `${r.scopeType}:${r.scopeRef}` : '');

function fileScope(value: string): FileReview['scope'] {
  const at = value.indexOf(':');
  const [kind, ref] = [value.slice(0, at), value.slice(at + 1)];
  if (kind === 'accessPackage') return { accessPackage: ref };
  if (kind === 'group') return { group: ref };
  if (kind === 'resource') return { resource: ref };
  return {};
}

/** A number as the file would hold it: digits become a number; anything else goes as typed, for the import to refuse. */
function fileNumber(value: string): unknown {
  if (value === '') return undefined;
  return /^-?\d{1,9}(\.\d+)?$/.test(value) ? Number(value) : value;
}

const isoDate = (d: Date | string) => new Date(d).toISOString().slice(0, 10);

/**
 * When the sweep next starts an instance of this review, given the start of its latest instance
 * (null: it never ran). A moment in the past means "at the next sweep". Null: never again (a review
 * held once that ran, or whose window passed). The sweep starts no occurrence within a period of an
 * instance's start (so a review started by hand skips its next occurrence) and never the same
 * occurrence twice.
 */
export function nextStart(review: { startsOn: Date; recurrence: Recurrence; durationDays: number }, lastStart: Date | null, now: Date): Date | null {
  const startsOn = new Date(review.startsOn);
  if (review.recurrence === 'once') {
    if (lastStart) return null;
    return addDays(startsOn, review.durationDays) > now ? startsOn : null;
  }
  const period = MIN_PERIOD_DAYS[review.recurrence] * DAY_MS;
  const last = lastStart ? new Date(lastStart).getTime() : null;
  let k = latestOccurrence(startsOn, review.recurrence, now)?.index ?? 0;
  for (let n = 0; n < 1000; n++, k++) {
    const start = occurrence(startsOn, review.recurrence, k);
    const end = instanceEnd(startsOn, review.recurrence, review.durationDays, k);
    if (end <= now || (last !== null && start.getTime() === last)) continue;
    const at = last !== null && last + period > start.getTime() ? new Date(last + period) : start;
    if (at < end) return at;
  }
  return null;
}

/** Who reviews, in words, for lists and pages. */
export function reviewersText(r: Pick<ReviewDefinitionRow, 'reviewerType' | 'reviewerEmails'>): string {
  if (r.reviewerType === 'self') return 'Each person reviews their own access';
  if (r.reviewerType === 'manager') return r.reviewerEmails.length ? `Managers; without a manager: ${r.reviewerEmails.join(', ')}` : 'Managers';
  return r.reviewerEmails.join(', ');
}

/** What happens when an ended instance's results are applied: how many keep and how many lose their access. */
export function applyPreview(i: InstanceRowCounts): { removed: number; kept: number; undecided: number } {
  const undecided = i.total - i.decided;
  const undecidedRemoved = i.ifNoResponse === 'removeAccess' ? undecided : i.ifNoResponse === 'takeRecommendations' ? i.undecidedDenyRecommended : 0;
  const removed = i.denied + undecidedRemoved;
  return { removed, kept: i.total - removed, undecided };
}

const snapshot = (i: InstanceRowCounts) => ({ state: i.state, startsAt: i.startsAt, endsAt: i.endsAt, endedAt: i.endedAt, appliedAt: i.appliedAt, items: i.total, decided: i.decided, kept: i.kept, removed: i.removed });

/**
 * Access review definitions for administrators and catalog owners (reviews of packages and
 * resources in their catalogs; group reviews are administrators'): create, change and remove
 * them through the directory file, so the import's validation applies; start an instance now, stop
 * it, apply its results and download them.
 */
export function createReviewAdmin(deps: { db: Knex; clock: Clock; notifier: Notifier }) {
  const { db, clock, notifier } = deps;
  const reviews = createReviewService({ db, clock, notifier });
  const lifecycleActor = systemActor('lifecycle');

  async function reviewOrNotFound(scope: AdminScope, id: string): Promise<ReviewDefinitionRow> {
    const review = await reviewInScope(db, scope, id);
    if (!review) throw adminNotFound();
    return review;
  }

  async function instanceOrNotFound(scope: AdminScope, id: string, instanceId: string) {
    const review = await reviewOrNotFound(scope, id);
    const instance = await instanceOfReview(db, id, instanceId);
    if (!instance) throw adminNotFound();
    return { review, instance };
  }

  /** The choices of the scope field; a review's current scope is always among them. */
  async function scopeOptions(scope: AdminScope, current: ReviewDefinitionRow | null = null): Promise<ScopeOption[]> {
    const { packages, groups, resources } = await scopeChoices(db, scope);
    const options = [
      ...packages.map((p) => ({ value: `accessPackage:${p.id}`, label: p.name, group: `Access packages in ${p.catalogName}` })),
      ...groups.map((g) => ({ value: `group:${g.key}`, label: g.name, group: 'Groups' })),
      ...resources.map((r) => ({ value: `resource:${r.key}`, label: r.name, group: `Resources in ${r.catalogName}` })),
    ];
    const value = current ? scopeValue(current) : '';
    if (current && value && !options.some((o) => o.value === value)) options.push({ value, label: current.scopeName ?? current.scopeRef ?? '', group: 'Current' });
    return options;
  }

  /**
   * Runs an instance action inside one transaction with its audit entry (before and after): the
   * reviews service does the work on a savepoint of this transaction.
   */
  async function instanceAction<T>(scope: AdminScope, id: string, instanceId: string, actor: Actor, action: string, work: (inTrx: ReturnType<typeof createReviewService>) => Promise<T>): Promise<T> {
    const review = await reviewOrNotFound(scope, id);
    return db.transaction(async (trx) => {
      await trx('access_review_instances').where({ id: instanceId, access_review_id: id }).forUpdate().first('id');
      const before = await instanceOfReview(trx, id, instanceId);
      if (!before) throw adminNotFound();
      const result = await work(createReviewService({ db: trx, clock, notifier }));
      const after = (await instanceOfReview(trx, id, instanceId))!;
      await recordAudit(trx, actor, {
        action,
        at: clock.now(),
        directoryId: scope.directoryId,
        targetType: 'accessReviewInstance',
        targetId: instanceId,
        details: { accessReviewId: id, label: review.name, before: snapshot(before), after: snapshot(after) },
      });
      return result;
    });
  }

  return {
    async list(scope: AdminScope) {
      const now = clock.now();
      const rows = await reviewsInScope(db, scope, LIST_LIMIT);
      return rows.map((r) => {
        const next = nextStart(r, r.instanceStartsAt, now);
        return { ...r, reviewers: reviewersText(r), nextStart: next, nextStartDue: next !== null && next <= now };
      });
    },

    scopeOptions: (scope: AdminScope) => scopeOptions(scope),

    /** A new review's form: starts today, two weeks, once, reviewers give reasons and see recommendations. */
    emptyInput(): ReviewInput {
      return {
        name: '',
        description: '',
        scope: '',
        reviewerType: 'manager',
        fallbackReviewers: [],
        specificReviewers: [],
        startsOn: isoDate(clock.now()),
        durationDays: '14',
        recurrence: 'once',
        ifNoResponse: 'noChange',
        autoApply: false,
        requireJustification: true,
        showRecommendations: true,
      };
    },

    /** A review, its form values, its latest instances and what can be done now. */
    async get(scope: AdminScope, id: string) {
      const review = await reviewOrNotFound(scope, id);
      const now = clock.now();
      const instances = await instancesOf(db, id, INSTANCE_LIMIT);
      const values: ReviewInput = {
        name: review.name,
        description: review.description,
        scope: scopeValue(review),
        reviewerType: review.reviewerType,
        fallbackReviewers: review.reviewerType === 'manager' ? review.reviewerEmails : [],
        specificReviewers: review.reviewerType === 'specific' ? review.reviewerEmails : [],
        startsOn: isoDate(review.startsOn),
        durationDays: String(review.durationDays),
        recurrence: review.recurrence,
        ifNoResponse: review.ifNoResponse,
        autoApply: review.autoApply,
        requireJustification: review.requireJustification,
        showRecommendations: review.showRecommendations,
      };
      const active = instances.find((i) => i.state === 'active') ?? null;
      const next = nextStart(review, instances[0]?.startsAt ?? null, now);
      return {
        review,
        reviewers: reviewersText(review),
        values,
        instances: instances.map((i) => ({ ...i, preview: applyPreview(i), endPassed: i.state === 'active' && new Date(i.endsAt) <= now })),
        active,
        canStart: !active,
        instanceLimit: INSTANCE_LIMIT,
        nextStart: next,
        nextStartDue: next !== null && next <= now,
        scopeOptions: await scopeOptions(scope, review),
      };
    },

    /** Creates (id null) or changes a review through the directory file. Returns its id. */
    async save(scope: AdminScope, id: string | null, input: ReviewInput, actor: Actor): Promise<string> {
      const current = id ? await reviewOrNotFound(scope, id) : null;
      const offered = (await scopeOptions(scope, current)).some((o) => o.value === input.scope);
      const reviewId = current?.id ?? randomUUID();
      const reviewers =
        input.reviewerType === 'self'
          ? { type: 'self' }
          : input.reviewerType === 'manager'
            ? { type: 'manager', fallback: input.fallbackReviewers }
            : input.reviewerType === 'specific'
              ? { type: 'specific', users: input.specificReviewers }
              : { type: input.reviewerType };
      // An unchanged date keeps the stored moment (it may have a time of day), so later instances keep theirs.
      // Today means now: a review set up in the evening to start today runs its whole duration, not
      // from the midnight already gone.
      const now = clock.now();
      const startsOn =
        current && input.startsOn === isoDate(current.startsOn) ? new Date(current.startsOn).toISOString() : input.startsOn === isoDate(now) ? now.toISOString() : input.startsOn;
      const next = {
        id: reviewId,
        name: input.name,
        description: input.description,
        // Something not offered (nothing chosen, or out of this person's scope) goes as no scope: the import refuses it.
        scope: offered ? fileScope(input.scope) : {},
        reviewers,
        startsOn,
        durationDays: fileNumber(input.durationDays),
        recurrence: input.recurrence,
        ifNoResponse: input.ifNoResponse,
        autoApply: input.autoApply,
        requireJustification: input.requireJustification,
        showRecommendations: input.showRecommendations,
      } as unknown as FileReview;
      try {
        return await editDirectory(db, clock, actor, scope.directoryId, (file) => {
          let k: number;
          let before: unknown = null;
          if (current) {
            k = located(file.accessReviews.findIndex((r) => r.id === reviewId));
            before = structuredClone(file.accessReviews[k]);
            file.accessReviews[k] = next;
          } else {
            file.accessReviews.push(next);
            k = file.accessReviews.length - 1;
          }
          return {
            path: `accessReviews[${k}]`,
            fieldFor: reviewFieldFor,
            audit: { action: current ? 'accessReview.updated' : 'accessReview.created', targetType: 'accessReview', targetId: reviewId, label: input.name.trim() || current?.name || reviewId },
            before,
            after: () => file.accessReviews[k],
            result: reviewId,
          };
        });
      } catch (err) {
        if (!(err instanceof ValidationFailed) || offered) throw err;
        // The file's message is about its fields ("give exactly one of accessPackage, group or resource"); the form has one list.
        const message = input.scope ? 'What to review: choose one of the access packages, groups or resources in the list' : 'What to review: choose an access package, group or resource';
        const errors: FieldError[] = err.errors.map((e) => (e.field === 'scope' ? { ...e, message } : e));
        if (!errors.some((e) => e.field === 'scope')) {
          // In the order of the form: after the name and description.
          const at = errors.findIndex((e) => !['name', 'description'].includes(e.field) && !e.field.startsWith('form-'));
          errors.splice(at < 0 ? errors.length : at, 0, { field: 'scope', message });
        }
        throw new ValidationFailed(errors);
      }
    },

    /** Removes a review through the directory file: its instances, items and decisions go with it. */
    async remove(scope: AdminScope, id: string, actor: Actor): Promise<ReviewDefinitionRow> {
      const current = await reviewOrNotFound(scope, id);
      await editDirectory(db, clock, actor, scope.directoryId, (file) => {
        const k = located(file.accessReviews.findIndex((r) => r.id === id));
        const [before] = file.accessReviews.splice(k, 1);
        return {
          path: 'accessReviews',
          fieldFor: () => undefined,
          audit: { action: 'accessReview.removed', targetType: 'accessReview', targetId: id, label: current.name },
          before,
          after: () => null,
          result: undefined,
        };
      });
      return current;
    },

    /** Starts an instance now, unless one is active (409). An active instance whose end has come is ended first, as the sweep would. */
    async startNow(scope: AdminScope, id: string, actor: Actor): Promise<{ instanceId: string; endsAt: Date; items: number }> {
      const review = await reviewOrNotFound(scope, id);
      return db.transaction(async (trx) => {
        const now = clock.now();
        if (!(await trx('access_reviews').where({ id }).forUpdate().first('id'))) throw adminNotFound();
        const due = await trx('access_review_instances').where({ access_review_id: id, state: 'active' }).where('ends_at', '<=', now).pluck('id');
        for (const instanceId of due) await endDueReviews(trx, now, lifecycleActor, notifier, { instanceId });
        const active = await trx('access_review_instances').where({ access_review_id: id, state: 'active' }).first('ends_at');
        if (active) throw conflict('This review is already running', `Its current instance ends on ${dayTime(new Date(active.ends_at))}. Stop it before starting another.`);
        const started = await startReviewNow(trx, id, now, actor, notifier);
        if (!started) throw conflict('This review has just started', 'An instance of this review started at this very moment. Reload the page to see it.');
        await recordAudit(trx, actor, {
          action: 'accessReview.startedNow',
          at: now,
          directoryId: scope.directoryId,
          targetType: 'accessReviewInstance',
          targetId: started.instanceId,
          details: { accessReviewId: id, label: review.name, before: null, after: { state: 'active', startsAt: now, endsAt: started.endsAt, items: started.items } },
        });
        return started;
      });
    },

    /** One instance of a review, for the Stop and Apply pages, with what applying would do. */
    async instance(scope: AdminScope, id: string, instanceId: string) {
      const { review, instance } = await instanceOrNotFound(scope, id, instanceId);
      return { review, instance, preview: applyPreview(instance) };
    },

    /** Ends an active instance now (service stopReview): 409 when it has already ended. */
    async stop(scope: AdminScope, id: string, instanceId: string, actor: Actor) {
      return instanceAction(scope, id, instanceId, actor, 'accessReview.instanceStopped', (inTrx) => inTrx.stopReview(scope.user, instanceId, actor));
    },

    /** Applies an ended instance's results (service applyResults): 409 while it runs or once applied. */
    async apply(scope: AdminScope, id: string, instanceId: string, actor: Actor) {
      return instanceAction(scope, id, instanceId, actor, 'accessReview.resultsApplied', (inTrx) => inTrx.applyResults(scope.user, instanceId, actor));
    },

    /** Every item of an instance with its decision and outcome, as CSV. */
    async resultsCsv(scope: AdminScope, id: string, instanceId: string): Promise<{ filename: string; csv: string }> {
      await instanceOrNotFound(scope, id, instanceId);
      return reviews.resultsCsv(scope.user, instanceId);
    },
  };
}

export type ReviewAdmin = ReturnType<typeof createReviewAdmin>;
