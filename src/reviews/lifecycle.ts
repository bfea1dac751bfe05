import type { Knex } from 'knex';
import { recordAuditMany, type Actor } from '../audit/audit.ts';
import { addDays } from '../clock.ts';
import { revokeResourceRoles } from '../assignments/delivery.ts';
import { day, dayTime, type Notifier } from '../notifications/notifier.ts';
import { instanceEnd, latestOccurrence, MIN_PERIOD_DAYS, type Recurrence } from './schedule.ts';

/** Instances per transaction: each may hold thousands of items, so batches stay small. */
export const REVIEW_BATCH = 20;
/** People who have not signed in for this long are recommended Deny. */
export const INACTIVE_DAYS = 30;

export type ScopeType = 'accessPackage' | 'group' | 'resource';
export type ReviewerType = 'self' | 'manager' | 'specific';
export type IfNoResponse = 'noChange' | 'removeAccess' | 'takeRecommendations';

/** An access review definition as stored (access_reviews). */
export interface ReviewDefinition {
  id: string;
  directory_id: string;
  name: string;
  description: string;
  scope_type: ScopeType;
  scope_access_package_id: string | null;
  scope_group_id: string | null;
  scope_resource_id: string | null;
  reviewer_type: ReviewerType;
  starts_on: Date;
  duration_days: number;
  recurrence: Recurrence;
  if_no_response: IfNoResponse;
  auto_apply: boolean;
  require_justification: boolean;
  show_recommendations: boolean;
}

const REVIEW_COLUMNS = [
  'r.id', 'r.directory_id', 'r.name', 'r.description', 'r.scope_type', 'r.scope_access_package_id', 'r.scope_group_id', 'r.scope_resource_id',
  'r.reviewer_type', 'r.starts_on', 'r.duration_days', 'r.recurrence', 'r.if_no_response', 'r.auto_apply', 'r.require_justification', 'r.show_recommendations',
];

/**
 * What an instance keeps from its definition when it starts, and reads from itself from then on
 * (editing the definition changes only instances that start later): what it reviews, who reviews,
 * and what its end does. The name and description stay the definition's.
 */
const INSTANCE_SETTINGS = ['scope_type', 'scope_access_package_id', 'scope_group_id', 'scope_resource_id', 'reviewer_type', 'if_no_response', 'auto_apply', 'require_justification', 'show_recommendations'] as const;
type InstanceSettings = Pick<ReviewDefinition, (typeof INSTANCE_SETTINGS)[number]>;

/** The settings a new instance starts with: the definition's as they are now. */
function instanceSettings(review: ReviewDefinition): InstanceSettings {
  return Object.fromEntries(INSTANCE_SETTINGS.map((c) => [c, review[c]])) as InstanceSettings;
}

const PERIOD_DAYS_SQL = `case r.recurrence when 'weekly' then 7 when 'monthly' then 28 when 'quarterly' then 89 when 'semiAnnually' then 181 else 365 end`;

/** What a sentence about the review's scope needs: the name of the package, group or resource. */
export async function scopeName(trx: Knex, review: Pick<ReviewDefinition, 'scope_type' | 'scope_access_package_id' | 'scope_group_id' | 'scope_resource_id'>): Promise<string> {
  if (review.scope_type === 'accessPackage' && review.scope_access_package_id) return (await trx('access_packages').where({ id: review.scope_access_package_id }).first('name'))?.name ?? 'an access package';
  if (review.scope_type === 'group' && review.scope_group_id) return (await trx('groups').where({ id: review.scope_group_id }).first('name'))?.name ?? 'a group';
  if (review.scope_type === 'resource' && review.scope_resource_id) return (await trx('resources').where({ id: review.scope_resource_id }).first('name'))?.name ?? 'a resource';
  return 'access that no longer exists';
}

/**
 * Starts the instances that are due: a review's first start (`startsOn`) and each recurrence after
 * it. An instance gets one item per person's access in scope at this moment, each with its
 * reviewers and a recommendation, and every reviewer is told. Reviews are claimed FOR UPDATE SKIP
 * LOCKED and an instance is unique per (review, start), so two sweeps never start one twice.
 * An occurrence whose whole window passed while nothing swept is skipped, not started late.
 */
export async function startDueReviews(trx: Knex, now: Date, actor: Actor, notifier: Notifier, options: { limit?: number; reviewId?: string } = {}): Promise<number> {
  const limit = options.limit ?? REVIEW_BATCH;
  let started = 0;
  // Candidates include recurring reviews with nothing to start yet (a month longer than 28 days,
  // a window already missed): they must not fill the batch, or the sweep would stop before the
  // reviews after them (it takes a short batch to mean "nothing more"). Pages past them instead.
  let after: { startsOn: Date; id: string } | null = null;
  while (started < limit) {
    const q = trx('access_reviews as r')
      .where('r.starts_on', '<=', now)
      .where(function () {
        this.where(function () {
          this.where('r.recurrence', 'once')
            .whereRaw('r.starts_on + make_interval(days => r.duration_days) > ?', [now])
            .whereNotExists(function () {
              this.select(trx.raw('1')).from('access_review_instances as i').whereRaw('i.access_review_id = r.id');
            });
        }).orWhere(function () {
          // Occurrences are at least a period apart: an instance this recent is the latest occurrence's.
          this.whereNot('r.recurrence', 'once').whereNotExists(function () {
            this.select(trx.raw('1')).from('access_review_instances as i').whereRaw(`i.access_review_id = r.id and i.starts_at > ?::timestamptz - make_interval(days => ${PERIOD_DAYS_SQL})`, [now]);
          });
        });
      })
      .orderBy([{ column: 'r.starts_on' }, { column: 'r.id' }])
      .limit(limit)
      .forUpdate('r')
      .skipLocked()
      .select(REVIEW_COLUMNS);
    if (options.reviewId) q.where('r.id', options.reviewId);
    if (after) q.whereRaw('(r.starts_on, r.id) > (?::timestamptz, ?::uuid)', [after.startsOn, after.id]);
    const candidates = (await q) as ReviewDefinition[];
    for (const review of candidates) {
      if (started >= limit) break;
      if (await startOccurrence(trx, review, now, actor, notifier)) started++;
    }
    if (candidates.length < limit) break;
    const last = candidates[candidates.length - 1];
    after = { startsOn: new Date(last.starts_on), id: last.id };
  }
  return started;
}

/** Starts the review's latest occurrence, unless it has none now, its window passed, or it already started. */
async function startOccurrence(trx: Knex, review: ReviewDefinition, now: Date, actor: Actor, notifier: Notifier): Promise<boolean> {
  const startsOn = new Date(review.starts_on);
  const latest = latestOccurrence(startsOn, review.recurrence, now);
  if (!latest) return false;
  const endsAt = instanceEnd(startsOn, review.recurrence, review.duration_days, latest.index);
  if (endsAt <= now) return false;
  const midpoint = new Date(latest.startsAt.getTime() + (endsAt.getTime() - latest.startsAt.getTime()) / 2);
  // Started after its midpoint (the sweep was late): the start email is the reminder.
  return (await openInstance(trx, review, { startsAt: latest.startsAt, endsAt, remindedAt: midpoint <= now ? now : null }, now, actor, notifier)) !== null;
}

/**
 * Starts an instance of one review now, outside its schedule (an administrator's "Start now"). The
 * caller holds the review FOR UPDATE and has made sure none of its instances is active. It lasts
 * `durationDays`, but a recurring review's at most one period: the sweep starts no occurrence
 * within a period of this start, so the two never overlap. Null when one started at this very moment.
 */
export async function startReviewNow(trx: Knex, reviewId: string, now: Date, actor: Actor, notifier: Notifier): Promise<{ instanceId: string; endsAt: Date; items: number } | null> {
  const review = (await trx('access_reviews as r').where('r.id', reviewId).first(REVIEW_COLUMNS)) as ReviewDefinition | undefined;
  if (!review) return null;
  const days = review.recurrence === 'once' ? review.duration_days : Math.min(review.duration_days, MIN_PERIOD_DAYS[review.recurrence]);
  const endsAt = addDays(now, days);
  const opened = await openInstance(trx, review, { startsAt: now, endsAt, remindedAt: null, startedNow: true }, now, actor, notifier);
  return opened && { instanceId: opened.id, endsAt, items: opened.items };
}

/**
 * Opens an instance with the review's settings as they are now, its items and reviewers, audits it
 * and tells the reviewers. Null when an instance with this start already exists.
 */
async function openInstance(
  trx: Knex,
  review: ReviewDefinition,
  window: { startsAt: Date; endsAt: Date; remindedAt: Date | null; startedNow?: boolean },
  now: Date,
  actor: Actor,
  notifier: Notifier,
): Promise<{ id: string; items: number } | null> {
  const [instance] = await trx('access_review_instances')
    .insert({ access_review_id: review.id, ...instanceSettings(review), starts_at: window.startsAt, ends_at: window.endsAt, state: 'active', reminded_at: window.remindedAt })
    .onConflict(['access_review_id', 'starts_at'])
    .ignore()
    .returning('id');
  if (!instance) return null;
  const items = await createItems(trx, review, instance.id, now);
  await assignReviewers(trx, review, instance.id);
  const details = { accessReviewId: review.id, name: review.name, items, startsAt: window.startsAt, endsAt: window.endsAt, ...(window.startedNow ? { startedNow: true } : {}) };
  await recordAuditMany(trx, actor, [{ action: 'accessReview.started', targetType: 'accessReviewInstance', targetId: instance.id, directoryId: review.directory_id, details }], now);
  await notifyReviewStarted(trx, notifier, review, instance.id, window.endsAt);
  return { id: instance.id, items };
}

/** One item per person's access in scope now; the recommendation is kept on the item (Deny: no sign-in for 30 days). */
async function createItems(trx: Knex, review: ReviewDefinition, instanceId: string, now: Date): Promise<number> {
  const activeSince = addDays(now, -INACTIVE_DAYS);
  const recommendation = `case when u.last_sign_in_at is not null and u.last_sign_in_at >= ? then 'approve' else 'deny' end`;
  let result;
  if (review.scope_type === 'accessPackage') {
    result = await trx.raw(
      `insert into access_review_items (instance_id, subject_user_id, subject_sort_name, assignment_id, access_label, access_since, recommendation)
       select ?, a.user_id, lower(u.display_name), a.id, p.name, a.starts_at, ${recommendation}
       from assignments a
       join users u on u.id = a.user_id
       join access_packages p on p.id = a.access_package_id
       where a.access_package_id = ? and a.state = 'delivered' and u.disabled_at is null`,
      [instanceId, activeSince, review.scope_access_package_id],
    );
  } else if (review.scope_type === 'group') {
    result = await trx.raw(
      `insert into access_review_items (instance_id, subject_user_id, subject_sort_name, group_id, access_label, access_since, recommendation)
       select ?, gm.user_id, lower(u.display_name), g.id, g.name, null::timestamptz, ${recommendation}
       from group_members gm
       join groups g on g.id = gm.group_id
       join users u on u.id = gm.user_id
       where gm.group_id = ? and u.disabled_at is null`,
      [instanceId, activeSince, review.scope_group_id],
    );
  } else {
    // The holders of a resource's roles: people whose live assignments carry an unrevoked grant of one of its roles.
    result = await trx.raw(
      `insert into access_review_items (instance_id, subject_user_id, subject_sort_name, resource_role_id, access_label, access_since, recommendation)
       select ?, a.user_id, lower(u.display_name), rr.id, res.name || ': ' || rr.name, min(ag.granted_at), ${recommendation}
       from assignment_grants ag
       join assignments a on a.id = ag.assignment_id
       join resource_roles rr on rr.id = ag.resource_role_id
       join resources res on res.id = rr.resource_id
       join users u on u.id = a.user_id
       where rr.resource_id = ? and ag.revoked_at is null and a.state = 'delivered' and u.disabled_at is null
       group by a.user_id, u.display_name, rr.id, res.name, rr.name, u.last_sign_in_at`,
      [instanceId, activeSince, review.scope_resource_id],
    );
  }
  return Number((result as { rowCount?: number; affectedRows?: number }).rowCount ?? (result as { affectedRows?: number }).affectedRows ?? 0);
}

/**
 * Who reviews each item. Self: the person. Manager: the person's manager, or the fallback reviewers
 * when there is none (or the manager is disabled). Specific: the named reviewers. Nobody other than
 * in a self-review reviews their own access; an item left without a reviewer follows `ifNoResponse`.
 */
async function assignReviewers(trx: Knex, review: ReviewDefinition, instanceId: string): Promise<void> {
  if (review.reviewer_type === 'self') {
    await trx.raw(
      `insert into access_review_item_reviewers (item_id, user_id)
       select it.id, it.subject_user_id from access_review_items it where it.instance_id = ?`,
      [instanceId],
    );
    return;
  }
  if (review.reviewer_type === 'manager') {
    await trx.raw(
      `insert into access_review_item_reviewers (item_id, user_id)
       select it.id, m.id from access_review_items it
       join users s on s.id = it.subject_user_id
       join users m on m.id = s.manager_id
       where it.instance_id = ? and m.disabled_at is null`,
      [instanceId],
    );
  }
  // Specific reviewers for every item; for a manager review, the fallbacks for items that have no manager.
  await trx.raw(
    `insert into access_review_item_reviewers (item_id, user_id)
     select it.id, rv.user_id from access_review_items it
     join access_review_reviewers rv on rv.access_review_id = ?
     join users f on f.id = rv.user_id
     where it.instance_id = ? and f.disabled_at is null and rv.user_id <> it.subject_user_id
       and not exists (select 1 from access_review_item_reviewers x where x.item_id = it.id)`,
    [review.id, instanceId],
  );
}

async function notifyReviewStarted(trx: Knex, notifier: Notifier, review: ReviewDefinition, instanceId: string, endsAt: Date): Promise<void> {
  const reviewers = (await trx('access_review_item_reviewers as x')
    .join('access_review_items as it', 'it.id', 'x.item_id')
    .where('it.instance_id', instanceId)
    .groupBy('x.user_id')
    .select('x.user_id', trx.raw('count(*)::int as n'), trx.raw(`string_agg(it.access_label, ', ' order by it.access_label) as labels`))) as { user_id: string; n: number; labels: string }[];
  const scope = await scopeName(trx, review);
  const path = `/access-reviews/${instanceId}`;
  const ifNone = noResponseSentence(review.if_no_response, review.reviewer_type === 'self');
  await notifier.sendMany(
    trx,
    'accessReviewStarted',
    reviewers.map((r) => ({
      userId: r.user_id,
      dedupeKey: `accessReviewStarted:${instanceId}:${r.user_id}`,
      build: (to, links) =>
        review.reviewer_type === 'self'
          ? {
              subject: `Action required: Review your access by ${day(endsAt)}`,
              greeting: `Hello ${to.name},`,
              paragraphs: [
                `Do you still need access to ${r.labels}? Answer in the access review “${review.name}” by ${dayTime(endsAt)}.`,
                ...(review.description ? [review.description] : []),
                ifNone,
              ],
              action: { label: 'Review your access', url: links.to(path) },
            }
          : {
              subject: `Action required: Review access to ${scope} by ${day(endsAt)}`,
              greeting: `Hello ${to.name},`,
              paragraphs: [
                `You are a reviewer in the access review “${review.name}”. Approve or deny the access of ${r.n === 1 ? '1 person' : `${r.n} people`} to ${scope} by ${dayTime(endsAt)}.`,
                ...(review.description ? [review.description] : []),
                ifNone,
              ],
              action: { label: 'Review access', url: links.to(path) },
            },
    })),
  );
}

/** What happens to undecided access, in a sentence for reviewers. */
export function noResponseSentence(ifNoResponse: IfNoResponse, self = false): string {
  if (ifNoResponse === 'removeAccess') return self ? 'If you do not answer by then, your access will be removed.' : 'Access that nobody reviews by then will be removed.';
  if (ifNoResponse === 'takeRecommendations') return self ? 'If you do not answer by then, the recommendation will be taken.' : 'For access that nobody reviews by then, the recommendation will be taken.';
  return self ? 'If you do not answer by then, nothing changes.' : 'Access that nobody reviews by then stays as it is.';
}

/** Halfway through an instance, reviewers who still have undecided items get one reminder. */
export async function remindReviewers(trx: Knex, now: Date, notifier: Notifier, options: { limit?: number } = {}): Promise<number> {
  const due = (await trx('access_review_instances as i')
    .join('access_reviews as r', 'r.id', 'i.access_review_id')
    .where('i.state', 'active')
    .whereNull('i.reminded_at')
    .where('i.ends_at', '>', now)
    .whereRaw('i.starts_at + (i.ends_at - i.starts_at) / 2 <= ?', [now])
    .orderBy('i.ends_at')
    .limit(options.limit ?? REVIEW_BATCH)
    .forUpdate('i')
    .skipLocked()
    .select('i.id', 'i.ends_at', 'r.name', 'i.reviewer_type')) as { id: string; ends_at: Date; name: string; reviewer_type: ReviewerType }[];
  for (const instance of due) {
    const open = (await trx('access_review_item_reviewers as x')
      .join('access_review_items as it', 'it.id', 'x.item_id')
      .where('it.instance_id', instance.id)
      .groupBy('x.user_id')
      .havingRaw('count(*) filter (where it.decision is null) > 0')
      .select('x.user_id', trx.raw('(count(*) filter (where it.decision is null))::int as open'), trx.raw('count(*)::int as total'))) as { user_id: string; open: number; total: number }[];
    const endsAt = new Date(instance.ends_at);
    const path = `/access-reviews/${instance.id}`;
    await notifier.sendMany(
      trx,
      'accessReviewReminder',
      open.map((o) => ({
        userId: o.user_id,
        dedupeKey: `accessReviewReminder:${instance.id}:${o.user_id}`,
        build: (to, links) =>
          instance.reviewer_type === 'self'
            ? {
                subject: `Reminder: Review your access by ${day(endsAt)}`,
                greeting: `Hello ${to.name},`,
                paragraphs: [`You have not yet answered the access review “${instance.name}”. Tell us whether you still need your access by ${dayTime(endsAt)}.`],
                action: { label: 'Review your access', url: links.to(path) },
              }
            : {
                subject: `Reminder: Review access by ${day(endsAt)}`,
                greeting: `Hello ${to.name},`,
                paragraphs: [`In the access review “${instance.name}”, ${stillOpen(o.open, o.total)} The review ends on ${dayTime(endsAt)}.`],
                action: { label: 'Review access', url: links.to(path) },
              },
      })),
    );
    await trx('access_review_instances').where({ id: instance.id }).update({ reminded_at: now });
  }
  return due.length;
}

/** "The person you review still needs a decision." or "2 of the 5 people you review still need a decision." */
function stillOpen(open: number, total: number): string {
  if (total === 1) return 'the person you review still needs a decision.';
  return `${open} of the ${total} people you review still ${open === 1 ? 'needs' : 'need'} a decision.`;
}

/** An instance with its own settings (i.*) and its definition's name, description and schedule (r.*). */
export interface InstanceRow extends ReviewDefinition {
  instance_id: string;
  state: 'active' | 'ended' | 'applied';
  starts_at: Date;
  ends_at: Date;
}

export const INSTANCE_COLUMNS = [
  'r.id', 'r.directory_id', 'r.name', 'r.description', 'r.starts_on', 'r.duration_days', 'r.recurrence',
  ...INSTANCE_SETTINGS.map((c) => `i.${c}`),
  'i.id as instance_id', 'i.state', 'i.starts_at', 'i.ends_at',
];

/**
 * Instances whose end has come are Ended, and their results applied when the review says
 * `autoApply`. Claimed FOR UPDATE SKIP LOCKED: a decision being saved right now (it holds the
 * instance FOR SHARE) finishes first, and the instance ends on the next run.
 */
export async function endDueReviews(trx: Knex, now: Date, actor: Actor, notifier: Notifier, options: { limit?: number; instanceId?: string } = {}): Promise<number> {
  const q = trx('access_review_instances as i')
    .join('access_reviews as r', 'r.id', 'i.access_review_id')
    .where('i.state', 'active')
    .where('i.ends_at', '<=', now)
    .orderBy('i.ends_at')
    .limit(options.limit ?? REVIEW_BATCH)
    .forUpdate('i')
    .skipLocked()
    .select(INSTANCE_COLUMNS);
  if (options.instanceId) q.where('i.id', options.instanceId);
  const due = (await q) as InstanceRow[];
  for (const instance of due) await endInstance(trx, instance, now, actor, notifier, 'ended');
  return due.length;
}

/** Ends an active instance (its end came, or an administrator stopped it); the caller holds it FOR UPDATE. */
export async function endInstance(trx: Knex, instance: InstanceRow, now: Date, actor: Actor, notifier: Notifier, how: 'ended' | 'stopped'): Promise<void> {
  await trx('access_review_instances').where({ id: instance.instance_id, state: 'active' }).update({ state: 'ended', ended_at: now });
  await recordAuditMany(
    trx,
    actor,
    [{ action: how === 'stopped' ? 'accessReview.stopped' : 'accessReview.ended', targetType: 'accessReviewInstance', targetId: instance.instance_id, directoryId: instance.directory_id, details: { accessReviewId: instance.id, name: instance.name } }],
    now,
  );
  if (instance.auto_apply) await applyInstance(trx, instance, now, actor, notifier);
}

/**
 * Applies an ended instance's results. Each item's outcome: Deny removes, Approve and Don't know
 * keep; undecided items follow `ifNoResponse` (no change keeps, remove access removes, take
 * recommendations does what the item's recommendation says). Removing ends the assignment (state
 * expired, end reason review, grants revoked) or deletes the group membership, with audit entries
 * and an email to the person. The caller holds the instance FOR UPDATE.
 */
export async function applyInstance(trx: Knex, instance: InstanceRow, now: Date, actor: Actor, notifier: Notifier): Promise<{ kept: number; removed: number }> {
  const instanceId = instance.instance_id;
  await trx.raw(
    `update access_review_items set
       outcome = case
         when decision = 'deny' then 'removed'
         when decision is not null then 'kept'
         when ? = 'removeAccess' then 'removed'
         when ? = 'takeRecommendations' and recommendation = 'deny' then 'removed'
         else 'kept' end,
       applied_at = ?
     where instance_id = ? and applied_at is null`,
    [instance.if_no_response, instance.if_no_response, now, instanceId],
  );
  const counts = (await trx('access_review_items').where({ instance_id: instanceId }).groupBy('outcome').select('outcome', trx.raw('count(*)::int as n'))) as { outcome: string; n: number }[];
  const removed = counts.find((c) => c.outcome === 'removed')?.n ?? 0;
  const kept = counts.find((c) => c.outcome === 'kept')?.n ?? 0;
  const reason = `it was removed after the access review “${instance.name}”.`;

  // Access packages and resource roles: end the assignments that give the access.
  let assignmentIds: string[] = [];
  if (instance.scope_type === 'accessPackage') {
    assignmentIds = await trx('access_review_items').where({ instance_id: instanceId, outcome: 'removed' }).whereNotNull('assignment_id').pluck('assignment_id');
  } else if (instance.scope_type === 'resource') {
    assignmentIds = (
      await trx.raw(
        `select distinct a.id from access_review_items it
         join assignments a on a.user_id = it.subject_user_id and a.state = 'delivered'
         join assignment_grants ag on ag.assignment_id = a.id and ag.resource_role_id = it.resource_role_id and ag.revoked_at is null
         where it.instance_id = ? and it.outcome = 'removed'`,
        [instanceId],
      )
    ).rows.map((r: { id: string }) => r.id);
  }
  const ended: { id: string; directory_id: string; request_id: string | null; user_id: string }[] = [];
  for (let i = 0; i < assignmentIds.length; i += 1000) {
    ended.push(
      ...(await trx('assignments')
        .whereIn('id', assignmentIds.slice(i, i + 1000))
        .whereIn('state', ['scheduled', 'delivered'])
        .update({ state: 'expired', ended_at: now, end_reason: 'review', updated_at: now })
        .returning(['id', 'directory_id', 'request_id', 'user_id'])),
    );
  }
  if (ended.length) {
    const endedIds = ended.map((a) => a.id);
    await revokeResourceRoles(trx, endedIds, now);
    await recordAuditMany(
      trx,
      actor,
      ended.map((a) => ({ action: 'assignment.removed', targetType: 'assignment', targetId: a.id, directoryId: a.directory_id, details: { reason: 'review', accessReviewId: instance.id, instanceId, userId: a.user_id } })),
      now,
    );
    await recordAuditMany(
      trx,
      actor,
      ended.filter((a) => a.request_id).map((a) => ({ action: 'request.accessEnded', targetType: 'request', targetId: a.request_id!, directoryId: a.directory_id, details: { reason: 'review' } })),
      now,
    );
    await notifier.accessEnded(trx, endedIds, reason);
  }

  // Groups: delete the membership.
  if (instance.scope_type === 'group') {
    const rows = (await trx('access_review_items as it')
      .join('groups as g', 'g.id', 'it.group_id')
      .where({ 'it.instance_id': instanceId, 'it.outcome': 'removed' })
      .select('it.id', 'it.subject_user_id', 'it.group_id', 'g.name as group_name')) as { id: string; subject_user_id: string; group_id: string; group_name: string }[];
    const gone: typeof rows = [];
    for (let i = 0; i < rows.length; i += 1000) {
      const chunk = rows.slice(i, i + 1000);
      const deleted = (await trx('group_members')
        .whereIn(['group_id', 'user_id'], chunk.map((r) => [r.group_id, r.subject_user_id]))
        .del()
        .returning(['group_id', 'user_id'])) as { group_id: string; user_id: string }[];
      const key = new Set(deleted.map((d) => `${d.group_id}:${d.user_id}`));
      gone.push(...chunk.filter((r) => key.has(`${r.group_id}:${r.subject_user_id}`)));
    }
    await recordAuditMany(
      trx,
      actor,
      gone.map((r) => ({ action: 'group.memberRemoved', targetType: 'group', targetId: r.group_id, directoryId: instance.directory_id, details: { userId: r.subject_user_id, reason: 'review', accessReviewId: instance.id, instanceId } })),
      now,
    );
    await notifier.sendMany(
      trx,
      'accessRemovedByReview',
      gone.map((r) => ({
        userId: r.subject_user_id,
        dedupeKey: `accessRemovedByReview:${r.id}`,
        build: (to, links) => ({
          subject: `You are no longer a member of ${r.group_name}`,
          greeting: `Hello ${to.name},`,
          paragraphs: [`You were removed from the group ${r.group_name}: ${reason}`, 'If you need it again, ask your manager or an administrator.'],
          action: { label: 'See your access', url: links.to('/access-packages/active') },
        }),
      })),
    );
  }

  await trx('access_review_instances').where({ id: instanceId }).update({ state: 'applied', applied_at: now, ended_at: trx.raw('coalesce(ended_at, ?)', [now]) });
  await recordAuditMany(
    trx,
    actor,
    [{ action: 'accessReview.applied', targetType: 'accessReviewInstance', targetId: instanceId, directoryId: instance.directory_id, details: { accessReviewId: instance.id, kept, removed, assignmentsEnded: ended.length } }],
    now,
  );
  return { kept, removed };
}
