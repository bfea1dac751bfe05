import type { Knex } from 'knex';
import { plannedPerCall } from '../db/prepared.ts';
import { policyTakesRequestsFrom, type Requestor } from '../policies/data.ts';
import { incompatibleHoldingsSql } from '../requests/data.ts';
import { isOpenSql } from '../requests/states.ts';
import { pageKey, pageShape, type PageRequest, type PageShape } from '../shared/keyset.ts';
import { shapedStatement, statement } from '../db/statement.ts';

/** Literal, so that a kept plan can use the partial index assignments_one_live. */
const LIVE = "a.state in ('scheduled', 'delivered')";

export type SearchField = 'all' | 'name' | 'resources';

/** A package as Available lists it; its description, what it gives and the person's own standing with it come from listedPackageFacts. */
export interface PackageListItem {
  id: string;
  name: string;
  sortName: string;
}

export interface ResourceRole {
  resourceName: string;
  resourceType: 'group' | 'application' | 'site';
  roleName: string;
  url: string | null;
  description: string;
}

function escapeLike(text: string): string {
  return text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** Three letters or digits in a row: a trigram index can narrow the search. */
const hasTrigram = (q: string) => /[\p{L}\p{N}]{3}/u.test(q);

/** A search as the listing's text depends on it: which field, and whether the words hold a trigram. */
interface SearchShape {
  field: SearchField;
  trigram: boolean;
}

/** The values a listing is read with: placeholders when its text is built (db/statement.ts), or the values themselves. */
interface ListingValues {
  userId: string | Knex.Raw;
  directoryId: string | Knex.Raw;
  now: Date | Knex.Raw;
  /** The LIKE pattern of a search. */
  pattern: string | Knex.Raw;
}

/**
 * The packages a search matches: by name, lower(name); in all three, search_text (name,
 * description and resource names, kept by triggers, see the page_keys migration), each with a
 * trigram index; by resource, the resources' names (trigram index), then their roles and packages
 * by key, collected first (an InitPlan) and fetched by primary key, or, for a search too short for
 * a trigram, each package's resources checked as packages are read (planned for its letters, see
 * availableQuery). With `order`, the matches
 * come sorted, so a page checks the policies of the packages it shows, not of every match.
 * Searches hold no control characters (queryText removes them), so a search never matches across
 * the lines of search_text.
 */
function searchMatches(db: Knex, v: ListingValues, search: SearchShape, order?: 'asc' | 'desc') {
  const matches = db('access_packages as m')
    .where('m.directory_id', v.directoryId)
    .select('m.id', 'm.name', 'm.hidden', 'm.directory_id', 'm.catalog_id', 'm.open_to', db.raw('lower(m.name) as sort_name'));
  if (search.field === 'name') matches.whereRaw('lower(m.name) like ?', [v.pattern]);
  else if (search.field === 'all') matches.whereRaw('m.search_text like ?', [v.pattern]);
  else if (!search.trigram) {
    // Most packages have a resource whose name holds one or two given letters: checked package by package.
    matches.whereExists(
      db('access_package_resource_roles as aprr')
        .join('resource_roles as rr', 'rr.id', 'aprr.resource_role_id')
        .join('resources as r', 'r.id', 'rr.resource_id')
        .whereRaw('aprr.access_package_id = m.id')
        .whereRaw('lower(r.name) like ?', [v.pattern])
        .select(db.raw('1')),
    );
  } else {
    const resourceIds = db('resources as r').where('r.directory_id', v.directoryId).whereRaw('lower(r.name) like ?', [v.pattern]).select('r.id');
    const roleIds = db('resource_roles as rr').whereRaw('rr.resource_id = any(array(?))', [resourceIds]).select('rr.id');
    const ids = db('access_package_resource_roles as aprr').whereRaw('aprr.resource_role_id = any(array(?))', [roleIds]).distinct('aprr.access_package_id as id');
    matches.whereRaw('m.id = any(array(?))', [ids]);
  }
  if (order) matches.orderByRaw(`lower(m.name) ${order}, m.id ${order}`);
  return matches;
}

/**
 * Packages listed under Available: not hidden, catalog enabled, some policy takes this person's
 * requests. `p.sort_name` is lower(name). With `order`, a search's matches come sorted, so a page
 * checks the policies of the packages it shows, not of every match. A package open to everyone
 * or to every member (`open_to`, kept by triggers: package_open_to migration) needs no look at its
 * policies; the others are checked by a subquery that stops at the first policy found (as EXISTS,
 * the planner chose to hash every policy of the directory for the few packages left to check).
 */
function availableQuery(db: Knex, type: Requestor['type'], v: ListingValues, search: SearchShape | null, order?: 'asc' | 'desc') {
  // A word of three letters or digits has trigrams: its matches are read from the index and sorted,
  // wherever they fall in name order ("Payroll …" would be a walk through the names from A to P),
  // and that plan is kept: planned for its words on every call, it cost 0.65 ms more a search in
  // PostgreSQL, and the plan chosen was the same, for rare words and common ones alike. A shorter
  // search has no trigram, matches most packages, and is read in name order until a page is found;
  // it is planned for its letters, as how many packages one or two letters match varies most.
  const base: Knex.QueryBuilder = !search
    ? db('access_packages as p')
    : search.trigram
      ? db.from(searchMatches(db, v, search, order ?? 'asc').as('p'))
      : plannedPerCall(db.from(searchMatches(db, v, search).as('p')));
  const q = base
    .where('p.directory_id', v.directoryId)
    // Constants in the text, so that a kept plan is estimated for them (as values they made it look 4 times dearer).
    .whereRaw('not p.hidden')
    // The directory's few disabled catalogs, read once from their index (disabled_catalogs migration)
    // and hashed: looking up each listed package's catalog was most of the listing's time. Were
    // every catalog disabled, the hash would hold 7,500 ids at entra scale, well within work_mem.
    .whereRaw('p.catalog_id not in (select c.id from catalogs c where c.directory_id = ? and not c.enabled)', [v.directoryId])
    .where((open) =>
      open
        .whereRaw(type === 'member' ? `p.open_to in ('allUsers', 'allMembers')` : `p.open_to = 'allUsers'`)
        .orWhereRaw('?', [db('policies as pol').whereRaw('pol.access_package_id = p.id').where(policyTakesRequestsFrom(db, { id: v.userId, type }, v.now)).select(db.raw('true')).limit(1)]),
    );
  return q;
}

const searchShape = (search: { q: string; field: SearchField }): SearchShape | null => (search.q ? { field: search.field, trigram: hasTrigram(search.q) } : null);

const likePattern = (q: string) => `%${escapeLike(q)}%`;

const listingValues = (requestor: Requestor, now: Date, search: { q: string }): ListingValues => ({
  userId: requestor.id,
  directoryId: requestor.directoryId,
  now,
  pattern: likePattern(search.q),
});

interface ListingShape {
  type: Requestor['type'];
  search: SearchShape | null;
  page: PageShape;
}

/**
 * Up to `page.limit` + 1 packages of Available in name order, from a page's key. The limit is
 * written in the text: as a value, a kept plan is made for a tenth of the table (db/prepared.ts).
 */
function availableListing(db: Knex, shape: ListingShape, userId: Knex.Raw, directoryId: Knex.Raw, now: Knex.Raw, pattern: Knex.Raw, sortName?: Knex.Raw, id?: Knex.Raw) {
  const dir = shape.page.from === 'before' ? 'desc' : 'asc';
  // Without a search the listing index gives lower(name) order; a search's matches come sorted as sort_name.
  const key = shape.search ? 'p.sort_name' : 'lower(p.name)';
  const q = availableQuery(db, shape.type, { userId, directoryId, now, pattern }, shape.search, dir).select('p.id', 'p.name', db.raw(`${key} as sort_name`));
  if (shape.page.from === 'after') q.whereRaw(`(${key}, p.id) > (?, ?)`, [sortName!, id!]);
  if (shape.page.from === 'before') q.whereRaw(`(${key}, p.id) < (?, ?)`, [sortName!, id!]);
  return q.orderByRaw(`${key} ${dir}, p.id ${dir}`).limit(shape.page.limit + 1, { skipBinding: true });
}

const listAvailableStatement = shapedStatement<ListingShape, [userId: string, directoryId: string, now: Date, pattern: string, sortName: unknown, id: unknown]>(availableListing);

/** A page of Available: up to `limit` + 1 packages (the extra one says there is a next page). */
export async function listAvailable(
  db: Knex,
  requestor: Requestor,
  now: Date,
  search: { q: string; field: SearchField },
  page: PageRequest,
  limit: number,
): Promise<PackageListItem[]> {
  const [sortName, id] = pageKey(page, 2);
  const shape = { type: requestor.type, search: searchShape(search), page: pageShape(page, limit) };
  const rows: { id: string; name: string; sort_name: string }[] = await listAvailableStatement(db, shape, requestor.id, requestor.directoryId, now, likePattern(search.q), sortName, id);
  return rows.map((r) => ({ id: r.id, name: r.name, sortName: r.sort_name }));
}

export interface ListedPackageFacts {
  description: string;
  resources: ResourceRole[];
  /** The person has it now or from a scheduled start. */
  held: boolean;
  /** The person's request for it that is still open. */
  openRequestId: string | null;
  /** A package incompatible with it that the person has or has asked for (separation of duties): they cannot request it. */
  incompatibleWith: string | null;
}

/**
 * What a row of Available shows besides the package's name: its description and what it gives
 * (`ap` is the package's row, none for a package deleted since the list was read), whether this
 * person holds it, their open request for it, and whether separation of duties keeps them from it.
 */
function listedFactColumns(db: Knex, userId: Knex.Raw, packageId: string) {
  return [
    db.raw(`coalesce(ap.description, '') as description`),
    // Kept on the package by triggers (migration package_resources), in resource-name order.
    db.raw(`coalesce(ap.resources, '[]') as resources`),
    // The states in the text, so that a kept plan can use the partial indexes assignments_one_live and requests_one_open.
    db.raw(`exists (select 1 from assignments a where a.user_id = ? and a.access_package_id = ${packageId} and ${LIVE}) as held`, [userId]),
    db.raw(`(select r.id from requests r where r.target_user_id = ? and r.access_package_id = ${packageId} and ${isOpenSql('r')} limit 1) as open_request_id`, [userId]),
    db.raw(`(select h.name from (${incompatibleHoldingsSql(packageId)}) h limit 1) as incompatible_with`, { user: userId }),
  ];
}

interface ListedFactRow {
  description: string;
  resources: ResourceRole[];
  held: boolean;
  open_request_id: string | null;
  incompatible_with: string | null;
}

const toFacts = (row: ListedFactRow): ListedPackageFacts => ({ description: row.description, resources: row.resources, held: row.held, openRequestId: row.open_request_id, incompatibleWith: row.incompatible_with });

/** The facts of the packages a page lists, in one statement (four round trips cost Node more than PostgreSQL's work). */
const listedPackageFactsStatement = statement<[userId: string, packageIds: string[]]>((db, userId, packageIds) =>
  db
    .select('p.id', ...listedFactColumns(db, userId, 'p.id'))
    .from(db.raw('unnest(?::uuid[]) as p(id)', [packageIds]))
    .leftJoin('access_packages as ap', 'ap.id', 'p.id'),
);

/**
 * Available's first page, in one statement: up to `cap` + 1 packages are listed to count them
 * ("More than 100"), and the first `pageSize` + 1 come with their facts. As two statements (the
 * list, then the page's facts) they cost Node a round trip more on the page everyone opens, and on
 * every new search. A search too short for a trigram is planned for its letters (availableQuery),
 * the facts with it.
 */
const firstAvailablePageStatement = shapedStatement<
  { type: Requestor['type']; search: SearchShape | null; pageSize: number; cap: number },
  [userId: string, directoryId: string, now: Date, pattern: string]
>((db, shape, userId, directoryId, now, pattern) => {
  const listing = availableListing(db, { type: shape.type, search: shape.search, page: { from: 'start', limit: shape.cap } }, userId, directoryId, now, pattern);
  const page = db('listed').select('*').orderBy(['sort_name', 'id']).limit(shape.pageSize + 1, { skipBinding: true });
  const query = db
    .with('listed', listing)
    .select('l.id', 'l.name', 'l.sort_name', ...listedFactColumns(db, userId, 'l.id'), db.raw('(select count(*) from listed)::int as total'))
    .from(page.as('l'))
    .leftJoin('access_packages as ap', 'ap.id', 'l.id')
    .orderBy(['l.sort_name', 'l.id']);
  return shape.search && !shape.search.trigram ? plannedPerCall(query) : query;
});

/** Available's first page: up to `pageSize` + 1 packages with their facts, and how many there are, counted up to `cap` + 1. */
export async function firstAvailablePage(
  db: Knex,
  requestor: Requestor,
  now: Date,
  search: { q: string; field: SearchField },
  pageSize: number,
  cap: number,
): Promise<{ rows: (PackageListItem & ListedPackageFacts)[]; total: number }> {
  const shape = { type: requestor.type, search: searchShape(search), pageSize, cap };
  const rows: ({ id: string; name: string; sort_name: string; total: number } & ListedFactRow)[] = await firstAvailablePageStatement(db, shape, requestor.id, requestor.directoryId, now, likePattern(search.q));
  return { rows: rows.map((r) => ({ id: r.id, name: r.name, sortName: r.sort_name, ...toFacts(r) })), total: rows[0]?.total ?? 0 };
}

export async function listedPackageFacts(db: Knex, userId: string, packageIds: string[]): Promise<Map<string, ListedPackageFacts>> {
  const facts = new Map<string, ListedPackageFacts>();
  if (packageIds.length === 0) return facts;
  const rows: ({ id: string } & ListedFactRow)[] = await listedPackageFactsStatement(db, userId, packageIds);
  for (const row of rows) facts.set(row.id, toFacts(row));
  return facts;
}

/** How many packages match, counted up to `cap` (a bounded cost whatever the directory's size). */
export async function countAvailable(db: Knex, requestor: Requestor, now: Date, search: { q: string; field: SearchField }, cap: number): Promise<number> {
  const inner = availableQuery(db, requestor.type, listingValues(requestor, now, search), searchShape(search)).select('p.id').limit(cap + 1, { skipBinding: true });
  const outer = db.from(inner.as('matches'));
  const [{ n }] = await (search.q && !hasTrigram(search.q) ? plannedPerCall(outer) : outer).count('* as n');
  return Number(n);
}

export interface PackageDetails {
  id: string;
  name: string;
  description: string;
  hidden: boolean;
  catalogId: string;
  catalogName: string;
  catalogEnabled: boolean;
  directoryId: string;
  resources: ResourceRole[];
  incompatibleWith: { id: string; name: string }[];
}

export async function packageDetails(db: Knex, directoryId: string, id: string): Promise<PackageDetails | null> {
  const row = await db('access_packages as p')
    .join('catalogs as c', 'c.id', 'p.catalog_id')
    .where('p.id', id)
    .where('p.directory_id', directoryId)
    .first('p.id', 'p.name', 'p.description', 'p.hidden', 'p.directory_id', 'c.id as catalog_id', 'c.name as catalog_name', 'c.enabled as catalog_enabled', 'p.resources');
  if (!row) return null;
  const incompatibleWith = await db('access_package_incompatibles as i').join('access_packages as o', 'o.id', 'i.incompatible_id').where('i.access_package_id', id).orderBy('o.name').select('o.id', 'o.name');
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    hidden: row.hidden,
    catalogId: row.catalog_id,
    catalogName: row.catalog_name,
    catalogEnabled: row.catalog_enabled,
    directoryId: row.directory_id,
    resources: row.resources,
    incompatibleWith,
  };
}

export interface AssignmentListItem {
  id: string;
  accessPackageId: string;
  packageName: string;
  policyName: string;
  state: 'scheduled' | 'delivered' | 'expired';
  startsAt: Date;
  endsAt: Date | null;
  endedAt: Date | null;
  endReason: string | null;
}

const assignmentColumns = [
  'a.id',
  'a.access_package_id as accessPackageId',
  'p.name as packageName',
  'pol.name as policyName',
  'a.state',
  'a.starts_at as startsAt',
  'a.ends_at as endsAt',
  'a.ended_at as endedAt',
  'a.end_reason as endReason',
];

/**
 * Current and scheduled access, soonest-ending first (access that never ends last), then by
 * package name: by keyset on (ends_at, lower(name), id). One person's live assignments are few
 * enough to sort; the key is there so that none is ever out of reach.
 */
export async function liveAssignments(db: Knex, userId: string, page: PageRequest, limit: number): Promise<(AssignmentListItem & { sortName: string })[]> {
  const q = db('assignments as a')
    .join('access_packages as p', 'p.id', 'a.access_package_id')
    .join('policies as pol', 'pol.id', 'a.policy_id')
    .where('a.user_id', userId)
    .whereRaw(LIVE)
    .select([...assignmentColumns, db.raw('lower(p.name) as "sortName"')]);
  const key = `(coalesce(a.ends_at, 'infinity'::timestamptz), lower(p.name), a.id)`;
  const cursor = `(coalesce(?::timestamptz, 'infinity'::timestamptz), ?, ?::uuid)`;
  if (page.after) q.whereRaw(`${key} > ${cursor}`, page.after as [Date | null, string, string]);
  if (page.before) q.whereRaw(`${key} < ${cursor}`, page.before as [Date | null, string, string]);
  const dir = page.before ? 'desc' : 'asc';
  return q.orderByRaw(`coalesce(a.ends_at, 'infinity'::timestamptz) ${dir}, lower(p.name) ${dir}, a.id ${dir}`).limit(limit + 1);
}

/** How many packages this person has access to now or from a scheduled start. */
export async function countLiveAssignments(db: Knex, userId: string): Promise<number> {
  const row = await db('assignments as a').where('a.user_id', userId).whereRaw(LIVE).first(db.raw('count(*)::int as n'));
  return Number(row?.n ?? 0);
}

/** Ended access, most recently ended first, by keyset on (ended_at, id). */
export async function expiredAssignments(db: Knex, userId: string, page: PageRequest, limit: number): Promise<AssignmentListItem[]> {
  const q = db('assignments as a')
    .join('access_packages as p', 'p.id', 'a.access_package_id')
    .join('policies as pol', 'pol.id', 'a.policy_id')
    .where('a.user_id', userId)
    .where('a.state', 'expired')
    .select(assignmentColumns);
  if (page.after) q.whereRaw('(a.ended_at, a.id) < (?, ?)', page.after as [Date, string]);
  if (page.before) q.whereRaw('(a.ended_at, a.id) > (?, ?)', page.before as [Date, string]);
  const dir = page.before ? 'asc' : 'desc';
  return q.orderByRaw(`a.ended_at ${dir}, a.id ${dir}`).limit(limit + 1);
}

/** This person's live assignment of the package, if any. */
export async function liveAssignmentOf(db: Knex, userId: string, packageId: string): Promise<AssignmentListItem | null> {
  const row = await db('assignments as a')
    .join('access_packages as p', 'p.id', 'a.access_package_id')
    .join('policies as pol', 'pol.id', 'a.policy_id')
    .where({ 'a.user_id': userId, 'a.access_package_id': packageId })
    .whereIn('a.state', ['scheduled', 'delivered'])
    .first(assignmentColumns);
  return row ?? null;
}

/** Whether the person ever held the package (an assignment in any state, ended ones included). */
export async function heldBefore(db: Knex, userId: string, packageId: string): Promise<boolean> {
  return Boolean(await db('assignments').where({ user_id: userId, access_package_id: packageId }).first(db.raw('1 as held')));
}

/** Administrators of the directory and owners of the package's catalog manage it. */
export async function managesCatalog(db: Knex, user: { id: string; isAdmin: boolean }, catalogId: string): Promise<boolean> {
  if (user.isAdmin) return true;
  return Boolean(await db('catalog_owners').where({ catalog_id: catalogId, user_id: user.id }).first('user_id'));
}
