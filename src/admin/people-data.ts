import type { Knex } from 'knex';
import { plannedPerCall } from '../db/prepared.ts';
import { byNameKeyset, type PageRequest } from '../shared/keyset.ts';
import { containsPattern } from './assignment-data.ts';

export interface UserRow {
  id: string;
  email: string;
  displayName: string;
  type: 'member' | 'guest';
  isAdmin: boolean;
  disabledAt: Date | null;
  sortName: string;
}

const keyset = (q: Knex.QueryBuilder, column: string, page: PageRequest) => byNameKeyset(q, column, 'id', page);

/** Users of a directory whose name or email contains the text, by name (keyset on lower(display_name), id). */
export async function searchUsers(db: Knex, directoryId: string, text: string, page: PageRequest, limit: number): Promise<UserRow[]> {
  const q = db('users')
    .where('directory_id', directoryId)
    .select('id', 'email', 'display_name as displayName', 'type', 'is_admin as isAdmin', 'disabled_at as disabledAt', db.raw('lower(display_name) as "sortName"'));
  if (text) {
    const pattern = containsPattern(text);
    plannedPerCall(q).where((w) => w.whereRaw('lower(display_name) like ?', [pattern]).orWhere('email', 'like', pattern));
  }
  const dir = keyset(q, 'display_name', page);
  return q.orderByRaw(`lower(display_name) ${dir}, id ${dir}`).limit(limit + 1);
}

export interface UserDetails {
  id: string;
  email: string;
  displayName: string;
  type: 'member' | 'guest';
  isAdmin: boolean;
  attributes: Record<string, string>;
  lastSignInAt: Date | null;
  /** The provider's subject this person signs in with (single sign-on), once linked. */
  ssoSubject: string | null;
  disabledAt: Date | null;
  createdAt: Date;
  manager: { id: string; displayName: string; email: string } | null;
  sponsors: { id: string; displayName: string; email: string }[];
  reports: { id: string; displayName: string; email: string }[];
  groups: { id: string; key: string; name: string }[];
  ownedCatalogs: { id: string; name: string }[];
}

export async function userDetails(db: Knex, directoryId: string, id: string): Promise<UserDetails | null> {
  const u = await db('users').where({ id, directory_id: directoryId }).first();
  if (!u) return null;
  const person = (q: Knex.QueryBuilder) => q.select('u.id', 'u.display_name as displayName', 'u.email');
  const manager = u.manager_id ? await person(db('users as u').where('u.id', u.manager_id)).first() : null;
  const sponsors = await person(db('user_sponsors as s').join('users as u', 'u.id', 's.sponsor_id').where('s.user_id', id)).orderByRaw('lower(u.display_name)');
  const reports = await person(db('users as u').where('u.manager_id', id).whereNull('u.disabled_at')).orderByRaw('lower(u.display_name)').limit(200);
  const groups = await db('group_members as m').join('groups as g', 'g.id', 'm.group_id').where('m.user_id', id).orderByRaw('lower(g.name)').select('g.id', 'g.key', 'g.name');
  const ownedCatalogs = await db('catalog_owners as o').join('catalogs as c', 'c.id', 'o.catalog_id').where('o.user_id', id).orderByRaw('lower(c.name)').select('c.id', 'c.name');
  return {
    id: u.id,
    email: u.email,
    displayName: u.display_name,
    type: u.type,
    isAdmin: u.is_admin,
    attributes: u.attributes ?? {},
    lastSignInAt: u.last_sign_in_at,
    ssoSubject: u.sso_subject,
    disabledAt: u.disabled_at,
    createdAt: u.created_at,
    manager: manager ?? null,
    sponsors,
    reports,
    groups,
    ownedCatalogs,
  };
}

export interface UserAssignmentRow {
  id: string;
  accessPackageId: string;
  packageName: string;
  catalogName: string;
  policyName: string;
  state: 'scheduled' | 'delivered' | 'expired';
  origin: string;
  startsAt: Date;
  endsAt: Date | null;
  endedAt: Date | null;
  endReason: string | null;
}

/** A person's assignments: live ones (soonest-ending first) or ended ones (latest first), bounded. */
export async function assignmentsOfUser(db: Knex, userId: string, live: boolean, limit: number): Promise<UserAssignmentRow[]> {
  const q = db('assignments as a')
    .join('access_packages as p', 'p.id', 'a.access_package_id')
    .join('catalogs as c', 'c.id', 'p.catalog_id')
    .join('policies as pol', 'pol.id', 'a.policy_id')
    .where('a.user_id', userId)
    .select(
      'a.id',
      'a.access_package_id as accessPackageId',
      'p.name as packageName',
      'c.name as catalogName',
      'pol.name as policyName',
      'a.state',
      'a.origin',
      'a.starts_at as startsAt',
      'a.ends_at as endsAt',
      'a.ended_at as endedAt',
      'a.end_reason as endReason',
    )
    .limit(limit);
  if (live) q.whereIn('a.state', ['scheduled', 'delivered']).orderByRaw('a.ends_at asc nulls last, lower(p.name)');
  else q.where('a.state', 'expired').orderBy([{ column: 'a.ended_at', order: 'desc' }, { column: 'a.id', order: 'desc' }]);
  return q;
}

export interface UserRequestRow {
  id: string;
  packageName: string;
  policyName: string;
  type: string;
  state: string;
  submittedAt: Date;
  requestedByName: string;
  requestedById: string;
}

export async function requestsOfUser(db: Knex, userId: string, limit: number): Promise<UserRequestRow[]> {
  return db('requests as r')
    .join('access_packages as p', 'p.id', 'r.access_package_id')
    .join('policies as pol', 'pol.id', 'r.policy_id')
    .join('users as b', 'b.id', 'r.requested_by_id')
    .where('r.target_user_id', userId)
    .orderBy([{ column: 'r.submitted_at', order: 'desc' }, { column: 'r.id', order: 'desc' }])
    .limit(limit)
    .select('r.id', 'p.name as packageName', 'pol.name as policyName', 'r.type', 'r.state', 'r.submitted_at as submittedAt', 'b.display_name as requestedByName', 'r.requested_by_id as requestedById');
}

export interface GroupRow {
  id: string;
  key: string;
  name: string;
  memberCount: number;
  sortName: string;
}

export async function searchGroups(db: Knex, directoryId: string, text: string, page: PageRequest, limit: number): Promise<GroupRow[]> {
  const q = db('groups')
    .where('directory_id', directoryId)
    .select('id', 'key', 'name', db.raw('(select count(*) from group_members m where m.group_id = groups.id)::int as "memberCount"'), db.raw('lower(name) as "sortName"'));
  if (text) {
    const pattern = containsPattern(text);
    plannedPerCall(q).where((w) => w.whereRaw('lower(name) like ?', [pattern]).orWhereRaw('lower(key) like ?', [pattern]));
  }
  const dir = keyset(q, 'name', page);
  return q.orderByRaw(`lower(name) ${dir}, id ${dir}`).limit(limit + 1);
}

export async function groupOf(db: Knex, directoryId: string, id: string): Promise<{ id: string; key: string; name: string; memberCount: number } | null> {
  const g = await db('groups')
    .where({ id, directory_id: directoryId })
    .first('id', 'key', 'name', db.raw('(select count(*) from group_members m where m.group_id = groups.id)::int as "memberCount"'));
  return g ?? null;
}

/** A group's members by name (keyset on lower(display_name), id). */
export async function membersOf(db: Knex, groupId: string, page: PageRequest, limit: number): Promise<UserRow[]> {
  const q = db('users')
    .whereIn('id', db('group_members').where({ group_id: groupId }).select('user_id'))
    .select('id', 'email', 'display_name as displayName', 'type', 'is_admin as isAdmin', 'disabled_at as disabledAt', db.raw('lower(display_name) as "sortName"'));
  const dir = keyset(q, 'display_name', page);
  return q.orderByRaw(`lower(display_name) ${dir}, id ${dir}`).limit(limit + 1);
}

/** Forgets a person's single sign-on identity (see linkSsoIdentity): their next single sign-on links them again. Returns what it was. */
export async function unlinkSsoIdentity(trx: Knex, directoryId: string, id: string): Promise<{ email: string; issuer: string | null; subject: string | null } | null> {
  const row = await trx('users').where({ id, directory_id: directoryId }).forUpdate().first('email', 'sso_issuer', 'sso_subject');
  if (!row) return null;
  await trx('users').where({ id }).update({ sso_issuer: null, sso_subject: null });
  return { email: row.email, issuer: row.sso_issuer, subject: row.sso_subject };
}
