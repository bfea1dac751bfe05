import type { Knex } from 'knex';
import type { IfNoResponse, ReviewerType, ScopeType } from '../reviews/lifecycle.ts';
import type { Recurrence } from '../reviews/schedule.ts';
import type { AdminScope } from './scope.ts';

/** A review definition as administration shows it, with the names of what it reviews and who reviews. */
export interface ReviewDefinitionRow {
  id: string;
  name: string;
  description: string;
  scopeType: ScopeType;
  scopeName: string | null;
  /** The access package's id, or the group's or resource's key: what the file format refers to. */
  scopeRef: string | null;
  /** The catalog of the package or resource (null for a group). */
  catalogId: string | null;
  catalogName: string | null;
  reviewerType: ReviewerType;
  /** Fallback reviewers (manager) or the reviewers (specific), by email. */
  reviewerEmails: string[];
  startsOn: Date;
  durationDays: number;
  recurrence: Recurrence;
  ifNoResponse: IfNoResponse;
  autoApply: boolean;
  requireJustification: boolean;
  showRecommendations: boolean;
}

export interface ReviewListRow extends ReviewDefinitionRow {
  /** The latest instance, if the review ever ran. */
  instanceId: string | null;
  instanceState: 'active' | 'ended' | 'applied' | null;
  instanceStartsAt: Date | null;
  instanceEndsAt: Date | null;
  total: number;
  decided: number;
}

export interface InstanceRowCounts {
  id: string;
  state: 'active' | 'ended' | 'applied';
  startsAt: Date;
  endsAt: Date;
  endedAt: Date | null;
  appliedAt: Date | null;
  total: number;
  decided: number;
  approved: number;
  denied: number;
  dontKnow: number;
  /** Undecided items whose recommendation is Deny (what `takeRecommendations` removes). */
  undecidedDenyRecommended: number;
  /** What this instance does with undecided access: the setting it started with. */
  ifNoResponse: 'noChange' | 'removeAccess' | 'takeRecommendations';
  autoApply: boolean;
  /** What this instance reviews (its own scope, whatever the definition says now). */
  scopeType: 'accessPackage' | 'group' | 'resource';
  scopeName: string | null;
  catalogName: string | null;
  kept: number;
  removed: number;
}

function definitions(db: Knex, scope: AdminScope): Knex.QueryBuilder {
  const q = db('access_reviews as r')
    .leftJoin('access_packages as p', 'p.id', 'r.scope_access_package_id')
    .leftJoin('groups as g', 'g.id', 'r.scope_group_id')
    .leftJoin('resources as res', 'res.id', 'r.scope_resource_id')
    .leftJoin('catalogs as c', function () {
      this.on(db.raw('c.id = coalesce(p.catalog_id, res.catalog_id)'));
    })
    .where('r.directory_id', scope.directoryId)
    .select(
      'r.id',
      'r.name',
      'r.description',
      'r.scope_type as scopeType',
      db.raw('coalesce(p.name, g.name, res.name) as "scopeName"'),
      db.raw('coalesce(p.id::text, g.key, res.key) as "scopeRef"'),
      'c.id as catalogId',
      'c.name as catalogName',
      'r.reviewer_type as reviewerType',
      db.raw(`coalesce((select array_agg(u.email order by u.email) from access_review_reviewers x join users u on u.id = x.user_id where x.access_review_id = r.id), '{}') as "reviewerEmails"`),
      'r.starts_on as startsOn',
      'r.duration_days as durationDays',
      'r.recurrence',
      'r.if_no_response as ifNoResponse',
      'r.auto_apply as autoApply',
      'r.require_justification as requireJustification',
      'r.show_recommendations as showRecommendations',
    );
  // Catalog owners: reviews of packages and resources in their catalogs; group reviews are administrators'.
  if (scope.catalogIds) q.whereNot('r.scope_type', 'group').whereIn('c.id', scope.catalogIds);
  return q;
}

/** The reviews in scope by name, each with its latest instance and how far its reviewers got. */
export async function reviewsInScope(db: Knex, scope: AdminScope, limit: number): Promise<ReviewListRow[]> {
  const rows = await definitions(db, scope)
    .joinRaw(
      `left join lateral (
         select i.id, i.state, i.starts_at, i.ends_at from access_review_instances i
         where i.access_review_id = r.id order by i.starts_at desc, i.id desc limit 1
       ) li on true`,
    )
    .select(
      'li.id as instanceId',
      'li.state as instanceState',
      'li.starts_at as instanceStartsAt',
      'li.ends_at as instanceEndsAt',
      db.raw('(select count(*) from access_review_items it where it.instance_id = li.id)::int as total'),
      db.raw('(select count(it.decision) from access_review_items it where it.instance_id = li.id)::int as decided'),
    )
    .orderByRaw('lower(r.name), r.id')
    .limit(limit);
  return rows as ReviewListRow[];
}

export async function reviewInScope(db: Knex, scope: AdminScope, id: string): Promise<ReviewDefinitionRow | null> {
  const row = await definitions(db, scope).where('r.id', id).first();
  return (row as ReviewDefinitionRow | undefined) ?? null;
}

/** A review's instances, latest first, with their decisions and outcomes counted. */
export async function instancesOf(db: Knex, reviewId: string, limit: number): Promise<InstanceRowCounts[]> {
  return instanceCounts(db).where('i.access_review_id', reviewId).orderBy([{ column: 'i.starts_at', order: 'desc' }, { column: 'i.id', order: 'desc' }]).limit(limit);
}

export async function instanceOfReview(db: Knex, reviewId: string, instanceId: string): Promise<InstanceRowCounts | null> {
  const row = await instanceCounts(db).where({ 'i.access_review_id': reviewId, 'i.id': instanceId }).first();
  return (row as InstanceRowCounts | undefined) ?? null;
}

function instanceCounts(db: Knex): Knex.QueryBuilder {
  return db('access_review_instances as i')
    .leftJoin('access_review_items as it', 'it.instance_id', 'i.id')
    .groupBy('i.id')
    .select(
      'i.id',
      'i.state',
      'i.starts_at as startsAt',
      'i.ends_at as endsAt',
      'i.ended_at as endedAt',
      'i.applied_at as appliedAt',
      'i.if_no_response as ifNoResponse',
      'i.auto_apply as autoApply',
      'i.scope_type as scopeType',
      db.raw(`coalesce((select p.name from access_packages p where p.id = i.scope_access_package_id), (select g.name from groups g where g.id = i.scope_group_id), (select res.name from resources res where res.id = i.scope_resource_id)) as "scopeName"`),
      db.raw(`(select c.name from catalogs c where c.id = coalesce((select p.catalog_id from access_packages p where p.id = i.scope_access_package_id), (select res.catalog_id from resources res where res.id = i.scope_resource_id))) as "catalogName"`),
      db.raw('count(it.id)::int as total'),
      db.raw('count(it.decision)::int as decided'),
      db.raw(`(count(*) filter (where it.decision = 'approve'))::int as approved`),
      db.raw(`(count(*) filter (where it.decision = 'deny'))::int as denied`),
      db.raw(`(count(*) filter (where it.decision = 'dontKnow'))::int as "dontKnow"`),
      db.raw(`(count(*) filter (where it.id is not null and it.decision is null and it.recommendation = 'deny'))::int as "undecidedDenyRecommended"`),
      db.raw(`(count(*) filter (where it.outcome = 'kept'))::int as kept`),
      db.raw(`(count(*) filter (where it.outcome = 'removed'))::int as removed`),
    );
}

/** The latest instance of a review (any state), its start and whether it is active. */
export async function latestInstance(db: Knex, reviewId: string): Promise<{ id: string; state: string; startsAt: Date; endsAt: Date } | null> {
  const row = await db('access_review_instances').where({ access_review_id: reviewId }).orderBy([{ column: 'starts_at', order: 'desc' }, { column: 'id', order: 'desc' }]).first('id', 'state', 'starts_at as startsAt', 'ends_at as endsAt');
  return row ?? null;
}

/** What a review can cover, for the form: packages and resources in scope; groups for administrators. */
export async function scopeChoices(db: Knex, scope: AdminScope): Promise<{ packages: { id: string; name: string; catalogName: string }[]; groups: { key: string; name: string }[]; resources: { key: string; name: string; catalogName: string }[] }> {
  const packages = db('access_packages as p')
    .join('catalogs as c', 'c.id', 'p.catalog_id')
    .where('c.directory_id', scope.directoryId)
    .orderByRaw('lower(c.name), c.id, lower(p.name), p.id')
    .limit(2000)
    .select('p.id', 'p.name', 'c.name as catalogName');
  const resources = db('resources as r')
    .join('catalogs as c', 'c.id', 'r.catalog_id')
    .where('c.directory_id', scope.directoryId)
    .orderByRaw('lower(c.name), c.id, lower(r.name), r.key')
    .limit(2000)
    .select('r.key', 'r.name', 'c.name as catalogName');
  if (scope.catalogIds) {
    packages.whereIn('c.id', scope.catalogIds);
    resources.whereIn('c.id', scope.catalogIds);
  }
  const groups = scope.catalogIds ? [] : await db('groups').where({ directory_id: scope.directoryId }).orderByRaw('lower(name), key').limit(2000).select('key', 'name');
  return { packages: await packages, groups, resources: await resources };
}
