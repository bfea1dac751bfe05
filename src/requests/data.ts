import type { Knex } from 'knex';
import { pageKey, pageShape, type PageRequest, type PageShape } from '../shared/keyset.ts';
import { shapedStatement, statement } from '../db/statement.ts';
import { isOpenSql, type RequestState } from './states.ts';
import type { Expiration } from '../policies/policy.ts';
import { whereIdIn } from '../db/prepared.ts';

export interface Answer {
  key: string;
  text: string;
  answer: string;
}

export interface AttributeValue {
  attribute: string;
  label: string;
  value: string;
}

export interface NewRequest {
  id?: string;
  directoryId: string;
  accessPackageId: string;
  policyId: string;
  targetUserId: string;
  requestedById: string;
  type: 'userAdd' | 'userExtend' | 'adminAdd' | 'adminRemove';
  state: RequestState;
  justification: string | null;
  answers: Answer[];
  requestorAttributes: AttributeValue[];
  requestedStart: Date | null;
  requestedEnd: Date | null;
  expiration: Expiration;
  resubmitsRequestId: string | null;
  submissionKey: string | null;
  currentStage: number | null;
  submittedAt: Date;
}

export async function insertRequest(trx: Knex, r: NewRequest): Promise<string> {
  const [row] = await trx('requests')
    .insert({
      ...(r.id ? { id: r.id } : {}),
      directory_id: r.directoryId,
      access_package_id: r.accessPackageId,
      policy_id: r.policyId,
      target_user_id: r.targetUserId,
      requested_by_id: r.requestedById,
      type: r.type,
      state: r.state,
      justification: r.justification,
      answers: JSON.stringify(r.answers),
      requestor_attributes: JSON.stringify(r.requestorAttributes),
      requested_start: r.requestedStart,
      requested_end: r.requestedEnd,
      expiration: JSON.stringify(r.expiration),
      resubmits_request_id: r.resubmitsRequestId,
      submission_key: r.submissionKey,
      current_stage: r.currentStage,
      submitted_at: r.submittedAt,
      updated_at: r.submittedAt,
    })
    .returning('id');
  return row.id;
}

export interface SubmitChecks {
  /** The request already made with this form's submission key (a double click, a second tab). */
  existingRequestId: string | null;
  /** Null when the package is not in the person's directory. */
  packageName: string | null;
  /** The person's access to the package now or from a scheduled start, with its end (null: none). */
  live: { endsAt: Date | null } | null;
  openRequestId: string | null;
  /** Incompatible packages the person holds or has asked for, by name. */
  incompatible: { id: string; name: string; kind: 'assignment' | 'request' }[];
}

/**
 * What a submit checks before its form's answers, in one statement (five round trips cost Node
 * more than PostgreSQL's work). Sent after the person's row is locked, so it sees what another
 * submit of theirs committed meanwhile.
 */
const submitChecksStatement = statement<[userId: string, directoryId: string, packageId: string, submissionKey: string | null]>((db, userId, directoryId, packageId, submissionKey) => {
  const live = `from assignments a where a.user_id = :user and a.access_package_id = :package and a.state in ('scheduled', 'delivered')`;
  return db.raw(
    `select (select r.id from requests r where r.submission_key = :key and r.requested_by_id = :user limit 1) as existing_request_id,
            (select p.name from access_packages p where p.id = :package and p.directory_id = :directory) as package_name,
            exists (select 1 ${live}) as live,
            (select a.ends_at ${live} limit 1) as live_ends_at,
            (select r.id from requests r where r.target_user_id = :user and r.access_package_id = :package and ${isOpenSql('r')} limit 1) as open_request_id,
            (select coalesce(json_agg(h order by h.name), '[]') from (${incompatibleHoldingsSql(':package')}) h) as incompatible`,
    { user: userId, package: packageId, directory: directoryId, key: submissionKey },
  );
});

export async function submitChecks(trx: Knex, userId: string, directoryId: string, packageId: string, submissionKey: string | null): Promise<SubmitChecks> {
  const [row] = await submitChecksStatement(trx, userId, directoryId, packageId, submissionKey);
  return {
    existingRequestId: row.existing_request_id,
    packageName: row.package_name,
    live: row.live ? { endsAt: row.live_ends_at } : null,
    openRequestId: row.open_request_id,
    incompatible: row.incompatible,
  };
}

export async function openRequestFor(db: Knex, userId: string, packageIds: string[]): Promise<{ id: string; accessPackageId: string; packageName: string; state: RequestState }[]> {
  if (packageIds.length === 0) return [];
  return whereIdIn(db('requests as r'), 'r.access_package_id', packageIds)
    .join('access_packages as p', 'p.id', 'r.access_package_id')
    .where('r.target_user_id', userId)
    .whereRaw(isOpenSql('r'))
    .select('r.id', 'r.access_package_id as accessPackageId', 'p.name as packageName', 'r.state');
}

export interface RequestSummary {
  id: string;
  accessPackageId: string;
  packageName: string;
  policyName: string;
  state: RequestState;
  type: string;
  submittedAt: Date;
}

const requestHistoryStatement = shapedStatement<PageShape, [userId: string, submittedAt: unknown, id: unknown]>((db, shape, userId, submittedAt, id) => {
  const q = db('requests as r')
    .join('access_packages as p', 'p.id', 'r.access_package_id')
    .join('policies as pol', 'pol.id', 'r.policy_id')
    .where('r.target_user_id', userId)
    .select('r.id', 'r.access_package_id as accessPackageId', 'p.name as packageName', 'pol.name as policyName', 'r.state', 'r.type', 'r.submitted_at as submittedAt');
  if (shape.from === 'after') q.whereRaw('(r.submitted_at, r.id) < (?, ?)', [submittedAt, id]);
  if (shape.from === 'before') q.whereRaw('(r.submitted_at, r.id) > (?, ?)', [submittedAt, id]);
  const dir = shape.from === 'before' ? 'asc' : 'desc';
  return q.orderByRaw(`r.submitted_at ${dir}, r.id ${dir}`).limit(shape.limit + 1);
});

/** A person's requests, newest first, by keyset on (submitted_at, id). */
export async function requestHistory(db: Knex, userId: string, page: PageRequest, limit: number): Promise<RequestSummary[]> {
  const [submittedAt, id] = pageKey(page, 2);
  return requestHistoryStatement(db, pageShape(page, limit), userId, submittedAt, id);
}

export interface StageDetails {
  id: string;
  position: number;
  state: 'waiting' | 'pending' | 'approved' | 'denied' | 'expired' | 'canceled';
  timeoutDays: number;
  requireApproverJustification: boolean;
  startedAt: Date | null;
  dueAt: Date | null;
  escalateAt: Date | null;
  escalatedAt: Date | null;
  decidedAt: Date | null;
  decision: 'approve' | 'deny' | null;
  decidedByName: string | null;
  justification: string | null;
  /** `open`: the stage is still waiting for this approver (it leaves their Approvals once decided, canceled or expired). */
  approvers: { userId: string; name: string; email: string; kind: 'primary' | 'fallback' | 'escalation'; open: boolean }[];
}

export interface RequestDetails extends RequestSummary {
  directoryId: string;
  policyId: string;
  policyUpdatedAt: Date;
  targetUserId: string;
  requestedById: string;
  requestorName: string;
  requestorEmail: string;
  justification: string | null;
  answers: Answer[];
  requestorAttributes: AttributeValue[];
  requestedStart: Date | null;
  requestedEnd: Date | null;
  resubmitsRequestId: string | null;
  resubmittedById: string | null;
  currentStage: number | null;
  completedAt: Date | null;
  stages: StageDetails[];
  assignment: { id: string; state: string; startsAt: Date; endsAt: Date | null; endedAt: Date | null } | null;
}

/** A request's stages, each with its approvers, as JSON (one statement for the request and all its parts). */
const STAGES_JSON = `(select coalesce(json_agg(st order by st.position), '[]') from (
    select s.id, s.position, s.state, s.timeout_days, s.require_approver_justification, s.started_at, s.due_at, s.escalate_at,
      s.escalated_at, s.decided_at, s.decision, d.display_name as decided_by_name, s.justification,
      (select coalesce(json_agg(json_build_object('userId', a.user_id, 'name', u.display_name, 'email', u.email, 'kind', a.kind, 'open', a.open) order by a.kind, u.display_name), '[]')
        from request_stage_approvers a join users u on u.id = a.user_id where a.stage_id = s.id) as approvers
    from request_stages s left join users d on d.id = s.decided_by_id where s.request_id = r.id) st) as stages`;
const ASSIGNMENT_JSON = `(select row_to_json(x) from (select id, state, starts_at, ends_at, ended_at from assignments
    where request_id = r.id order by created_at desc limit 1) x) as assignment`;

const dateOrNull = (value: string | null) => (value === null ? null : new Date(value));

interface StageJson {
  id: string;
  position: number;
  state: StageDetails['state'];
  timeout_days: number;
  require_approver_justification: boolean;
  started_at: string | null;
  due_at: string | null;
  escalate_at: string | null;
  escalated_at: string | null;
  decided_at: string | null;
  decision: StageDetails['decision'];
  decided_by_name: string | null;
  justification: string | null;
  approvers: StageDetails['approvers'];
}

const requestDetailsStatement = statement<[id: string]>((db, id) =>
  db('requests as r')
    .join('access_packages as p', 'p.id', 'r.access_package_id')
    .join('policies as pol', 'pol.id', 'r.policy_id')
    .join('users as u', 'u.id', 'r.target_user_id')
    .where('r.id', id)
    .first(
      'r.*',
      'p.name as package_name',
      'pol.name as policy_name',
      'pol.updated_at as policy_updated_at',
      'u.display_name as requestor_name',
      'u.email as requestor_email',
      db.raw('(select n.id from requests n where n.resubmits_request_id = r.id order by n.submitted_at desc limit 1) as resubmitted_by_id'),
      db.raw(STAGES_JSON),
      db.raw(ASSIGNMENT_JSON),
    ),
);

/**
 * A request with its package, policy, requestor, stages and approvers, and the access it gave, read
 * in one statement: its stages and its access come as JSON (four round trips were a third of a
 * request pane's time in Node).
 */
export async function requestDetails(db: Knex, id: string): Promise<RequestDetails | null> {
  const [r] = await requestDetailsStatement(db, id);
  if (!r) return null;
  const stages = r.stages as StageJson[];
  const assignment = r.assignment as { id: string; state: string; starts_at: string; ends_at: string | null; ended_at: string | null } | null;
  return {
    id: r.id,
    directoryId: r.directory_id,
    accessPackageId: r.access_package_id,
    packageName: r.package_name,
    policyId: r.policy_id,
    policyName: r.policy_name,
    policyUpdatedAt: new Date(r.policy_updated_at),
    targetUserId: r.target_user_id,
    requestedById: r.requested_by_id,
    requestorName: r.requestor_name,
    requestorEmail: r.requestor_email,
    state: r.state,
    type: r.type,
    justification: r.justification,
    answers: r.answers,
    requestorAttributes: r.requestor_attributes,
    requestedStart: r.requested_start,
    requestedEnd: r.requested_end,
    resubmitsRequestId: r.resubmits_request_id,
    resubmittedById: r.resubmitted_by_id,
    currentStage: r.current_stage,
    submittedAt: r.submitted_at,
    completedAt: r.completed_at,
    stages: stages.map((s) => ({
      id: s.id,
      position: s.position,
      state: s.state,
      timeoutDays: s.timeout_days,
      requireApproverJustification: s.require_approver_justification,
      startedAt: dateOrNull(s.started_at),
      dueAt: dateOrNull(s.due_at),
      escalateAt: dateOrNull(s.escalate_at),
      escalatedAt: dateOrNull(s.escalated_at),
      decidedAt: dateOrNull(s.decided_at),
      decision: s.decision,
      decidedByName: s.decided_by_name,
      justification: s.justification,
      approvers: s.approvers,
    })),
    assignment: assignment
      ? { id: assignment.id, state: assignment.state, startsAt: new Date(assignment.starts_at), endsAt: dateOrNull(assignment.ends_at), endedAt: dateOrNull(assignment.ended_at) }
      : null,
  };
}

export interface TimelineEntry {
  at: Date;
  action: string;
  actorLabel: string | null;
  actorName: string | null;
  details: Record<string, unknown>;
}

/** What happened to a request, oldest first: its entries in the audit log. */
export const requestTimeline: (db: Knex, requestId: string) => Promise<TimelineEntry[]> = statement((db, requestId) =>
  db('audit_log as l')
    .leftJoin('users as u', 'u.id', 'l.actor_id')
    .where({ 'l.target_type': 'request', 'l.target_id': requestId })
    .orderBy('l.id')
    .limit(200)
    .select('l.at', 'l.action', 'l.actor_label as actorLabel', 'u.display_name as actorName', 'l.details'),
);

/** Moves a request from one state to another only if it is still in `from`; returns whether it did. */
export async function transitionRequest(
  trx: Knex,
  id: string,
  from: RequestState[],
  to: RequestState,
  at: Date,
  extra: Record<string, unknown> = {},
): Promise<boolean> {
  const n = await trx('requests').where({ id }).whereIn('state', from).update({ state: to, updated_at: at, ...extra });
  return n === 1;
}

/**
 * The rule of separation of duties, as SQL: the packages incompatible with package `pkg` (an SQL
 * expression: a column, or `:package` for a value), whichever of the two names the other, that
 * person `:user` holds (kind 'assignment') or, unless `requests` is false, has an open request for
 * (kind 'request'). The states are in the text, so that a kept plan can use the partial indexes
 * assignments_one_live and requests_one_open.
 */
export function incompatibleHoldingsSql(pkg: string, options: { requests?: boolean } = {}): string {
  const holds = "exists (select 1 from assignments a where a.user_id = :user and a.access_package_id = o.id and a.state in ('scheduled', 'delivered'))";
  const asks = `exists (select 1 from requests r where r.target_user_id = :user and r.access_package_id = o.id and ${isOpenSql('r')})`;
  return `select o.id, o.name, case when ${holds} then 'assignment' else 'request' end as kind
    from access_packages o
    where o.id in (select i.incompatible_id from access_package_incompatibles i where i.access_package_id = ${pkg}
                   union select i.access_package_id from access_package_incompatibles i where i.incompatible_id = ${pkg})
      and (${holds}${options.requests === false ? '' : ` or ${asks}`})
    order by o.name`;
}

/**
 * Packages incompatible with this one that the person holds or has asked for: the directory
 * refuses anyone holding both. `requests: false`: only the packages they hold.
 */
export async function incompatibleHoldings(trx: Knex, userId: string, packageId: string, options: { requests?: boolean } = {}): Promise<{ id: string; name: string; kind: 'assignment' | 'request' }[]> {
  const result = await trx.raw(incompatibleHoldingsSql(':package', options), { user: userId, package: packageId });
  return result.rows;
}
