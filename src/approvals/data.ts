import type { Knex } from 'knex';
import { pageKey, pageShape, type PageRequest, type PageShape } from '../shared/keyset.ts';
import { shapedStatement, statement } from '../db/statement.ts';

export interface PendingApproval {
  requestId: string;
  stagePosition: number;
  stageCount: number;
  dueAt: Date;
  submittedAt: Date;
  packageName: string;
  requestorName: string;
  requestorEmail: string;
  kind: 'primary' | 'fallback' | 'escalation';
}

// In the SQL text, not sent as values, so that a cached generic plan can use the partial indexes
// made for exactly these rows (request_stage_approvers_due, request_stages_pending, requests_pending).
const PENDING_FOR_APPROVER = "a.open and s.state = 'pending' and r.state = 'pendingApproval'";

/** Stages waiting for this approver, soonest deadline first (keyset on due_at, request id). Never their own requests. */
const pendingForApproverStatement = shapedStatement<PageShape, [userId: string, dueAt: unknown, id: unknown]>((db, shape, userId, dueAt, id) => {
  // The approver's open items are read in deadline order from their index (each carries its stage's
  // deadline) until a page of them is found pending, and only those rows are joined to their
  // package and requestor: a thousand requests waiting cost a page of probes, not a thousand.
  const dir = shape.from === 'before' ? 'desc' : 'asc';
  const rows = db('request_stage_approvers as a')
    .join('request_stages as s', 's.id', 'a.stage_id')
    .join('requests as r', 'r.id', 's.request_id')
    .where('a.user_id', userId)
    .whereRaw(PENDING_FOR_APPROVER)
    .whereNot('r.target_user_id', userId)
    .select('r.id', 's.position', 'a.due_at', 'r.submitted_at', 'r.access_package_id', 'r.target_user_id', 'a.kind');
  if (shape.from === 'after') rows.where('a.due_at', '>=', dueAt).whereRaw('(a.due_at, r.id) > (?, ?)', [dueAt, id]);
  if (shape.from === 'before') rows.where('a.due_at', '<=', dueAt).whereRaw('(a.due_at, r.id) < (?, ?)', [dueAt, id]);
  rows.orderByRaw(`a.due_at ${dir}, r.id ${dir}`).limit(shape.limit + 1);
  return db
    .from(rows.as('t'))
    .join('access_packages as p', 'p.id', 't.access_package_id')
    .join('users as u', 'u.id', 't.target_user_id')
    .select(
      't.id as requestId',
      't.position as stagePosition',
      db.raw('(select count(*) from request_stages x where x.request_id = t.id)::int as "stageCount"'),
      't.due_at as dueAt',
      't.submitted_at as submittedAt',
      'p.name as packageName',
      'u.display_name as requestorName',
      'u.email as requestorEmail',
      't.kind',
    )
    .orderByRaw(`t.due_at ${dir}, t.id ${dir}`);
});

export async function pendingForApprover(db: Knex, userId: string, page: PageRequest, limit: number): Promise<PendingApproval[]> {
  const [dueAt, id] = pageKey(page, 2);
  return pendingForApproverStatement(db, pageShape(page, limit), userId, dueAt, id);
}

/**
 * For the Overview: the stages waiting for this approver, as one row (`count`, `oldest` deadline),
 * read from their open items alone (index-only, `request_stage_approvers_due`). An item stays open
 * only while its stage is pending: every change that ends a stage or its request closes the stage's
 * items in the same transaction, and nobody is asked to approve their own request (both checked by
 * `npm run check-integrity`). Joining each item to its stage and request to check it again cost
 * two index probes an item: 1.8 ms for an approver with 382 waiting.
 */
export function pendingForApproverCountQuery(db: Knex, userId: string | Knex.Raw): Knex.QueryBuilder {
  return db('request_stage_approvers as a')
    .where('a.user_id', userId)
    .whereRaw('a.open')
    .select(db.raw('count(*)::int as count'), db.raw('min(a.due_at) as oldest'));
}

export interface PastDecision {
  requestId: string;
  stagePosition: number;
  decision: 'approve' | 'deny';
  decidedAt: Date;
  justification: string | null;
  packageName: string;
  requestorName: string;
  requestState: string;
}

/** Decisions this person made, newest first (keyset on decided_at, stage id). */
export async function decisionsBy(db: Knex, userId: string, page: PageRequest, limit: number): Promise<(PastDecision & { stageId: string })[]> {
  const q = db('request_stages as s')
    .join('requests as r', 'r.id', 's.request_id')
    .join('access_packages as p', 'p.id', 'r.access_package_id')
    .join('users as u', 'u.id', 'r.target_user_id')
    .where('s.decided_by_id', userId)
    .select(
      's.id as stageId',
      'r.id as requestId',
      's.position as stagePosition',
      's.decision',
      's.decided_at as decidedAt',
      's.justification',
      'p.name as packageName',
      'u.display_name as requestorName',
      'r.state as requestState',
    );
  if (page.after) q.whereRaw('(s.decided_at, s.id) < (?, ?)', page.after as [Date, string]);
  if (page.before) q.whereRaw('(s.decided_at, s.id) > (?, ?)', page.before as [Date, string]);
  const dir = page.before ? 'asc' : 'desc';
  return q.orderByRaw(`s.decided_at ${dir}, s.id ${dir}`).limit(limit + 1);
}

/** A request's stage as a decision needs it (the columns of request_stages it reads, and three facts). */
export interface StageForDecision {
  id: string;
  position: number;
  due_at: Date | null;
  require_approver_justification: boolean;
  /** Another stage follows this one. */
  has_next: boolean;
  /** The person was asked to decide some stage of the request (what lets them see it). */
  asked: boolean;
  /** The person may decide this stage now. */
  asked_now: boolean;
}

/** The stage at `position` of a request; none when the request has no such stage (it needed no approval). */
export async function stageForDecision(trx: Knex, requestId: string, position: number, userId: string): Promise<StageForDecision | undefined> {
  return trx('request_stages as s')
    .where({ 's.request_id': requestId, 's.position': position })
    .first(
      's.*',
      trx.raw('exists (select 1 from request_stages n where n.request_id = s.request_id and n.position = s.position + 1) as has_next'),
      trx.raw('exists (select 1 from request_stage_approvers a join request_stages x on x.id = a.stage_id where x.request_id = s.request_id and a.user_id = ?) as asked', [userId]),
      trx.raw('exists (select 1 from request_stage_approvers a where a.stage_id = s.id and a.user_id = ? and a.open) as asked_now', [userId]),
    );
}

export interface RequestorProfile {
  department: string | null;
  jobTitle: string | null;
  managerName: string | null;
  type: 'member' | 'guest';
}

const requestorProfileStatement = statement<[userId: string]>((db, userId) =>
  db('users as u').leftJoin('users as m', 'm.id', 'u.manager_id').where('u.id', userId).first('u.attributes', 'u.type', 'm.display_name as manager_name'),
);

export async function requestorProfile(db: Knex, userId: string): Promise<RequestorProfile> {
  const [row] = await requestorProfileStatement(db, userId);
  const attributes = (row?.attributes ?? {}) as Record<string, string>;
  return { department: attributes.department ?? null, jobTitle: attributes.jobTitle ?? null, managerName: row?.manager_name ?? null, type: row?.type ?? 'member' };
}
