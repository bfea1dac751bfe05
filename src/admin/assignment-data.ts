import type { Knex } from 'knex';
import { plannedPerCall } from '../db/prepared.ts';
import type { PageRequest } from '../shared/keyset.ts';

export type AssignmentStateFilter = 'live' | 'delivered' | 'scheduled' | 'expired' | 'all';
export const ASSIGNMENT_STATE_FILTERS: AssignmentStateFilter[] = ['live', 'delivered', 'scheduled', 'expired', 'all'];

export interface AdminAssignmentRow {
  id: string;
  userId: string;
  userName: string;
  userEmail: string;
  policyName: string;
  state: 'scheduled' | 'delivered' | 'expired';
  origin: 'request' | 'admin' | 'import';
  startsAt: Date;
  endsAt: Date | null;
  endedAt: Date | null;
  endReason: string | null;
  sortName: string;
}

/** `%text%` for LIKE, with the pattern characters of the text taken literally. */
export function containsPattern(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

const columns = [
  'a.id',
  'a.user_id as userId',
  'u.display_name as userName',
  'u.email as userEmail',
  'pol.name as policyName',
  'a.state',
  'a.origin',
  'a.starts_at as startsAt',
  'a.ends_at as endsAt',
  'a.ended_at as endedAt',
  'a.end_reason as endReason',
];

/** A package's assignments, by person name (keyset on lower(display_name), id). */
export async function assignmentsOfPackage(
  db: Knex,
  packageId: string,
  filter: { state: AssignmentStateFilter; q: string },
  page: PageRequest,
  limit: number,
): Promise<AdminAssignmentRow[]> {
  const q = db('assignments as a')
    .join('users as u', 'u.id', 'a.user_id')
    .join('policies as pol', 'pol.id', 'a.policy_id')
    .where('a.access_package_id', packageId)
    .select([...columns, db.raw('lower(u.display_name) as "sortName"')]);
  if (filter.state === 'live') q.whereIn('a.state', ['scheduled', 'delivered']);
  else if (filter.state !== 'all') q.where('a.state', filter.state);
  if (filter.q) {
    const pattern = containsPattern(filter.q);
    plannedPerCall(q).where((w) => w.whereRaw('lower(u.display_name) like ?', [pattern]).orWhere('u.email', 'like', pattern));
  }
  if (page.after) q.whereRaw('(lower(u.display_name), a.id) > (?, ?)', page.after as [string, string]);
  if (page.before) q.whereRaw('(lower(u.display_name), a.id) < (?, ?)', page.before as [string, string]);
  const dir = page.before ? 'desc' : 'asc';
  return q.orderByRaw(`lower(u.display_name) ${dir}, a.id ${dir}`).limit(limit + 1);
}

export interface AssignmentForRemoval extends AdminAssignmentRow {
  accessPackageId: string;
  policyId: string;
  requestId: string | null;
  directoryId: string;
}

/** One assignment of a package, locked when `forUpdate` (inside a transaction). */
export async function assignmentOfPackage(db: Knex, packageId: string, assignmentId: string, options: { forUpdate?: boolean } = {}): Promise<AssignmentForRemoval | null> {
  const q = db('assignments as a')
    .join('users as u', 'u.id', 'a.user_id')
    .join('policies as pol', 'pol.id', 'a.policy_id')
    .where({ 'a.id': assignmentId, 'a.access_package_id': packageId })
    .first([
      ...columns,
      db.raw('lower(u.display_name) as "sortName"'),
      'a.access_package_id as accessPackageId',
      'a.policy_id as policyId',
      'a.request_id as requestId',
      'a.directory_id as directoryId',
    ]);
  if (options.forUpdate) q.forUpdate('a');
  return (await q) ?? null;
}

/** A user of the directory found by email (any case), for an administrator's form. */
export async function userByEmail(db: Knex, directoryId: string, email: string, options: { forUpdate?: boolean } = {}) {
  const q = db('users').where({ directory_id: directoryId, email: email.trim().toLowerCase() }).first('id', 'email', 'display_name as displayName', 'disabled_at as disabledAt');
  if (options.forUpdate) q.forUpdate();
  return ((await q) as { id: string; email: string; displayName: string; disabledAt: Date | null } | undefined) ?? null;
}
