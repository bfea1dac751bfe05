import type { Knex } from 'knex';
import type { PageRequest } from '../shared/keyset.ts';
import type { RequestState } from '../requests/states.ts';
import { inScope, type AdminScope } from './scope.ts';

export interface AdminRequestFilter {
  state: RequestState | '';
  catalogId: string;
  packageId: string;
}

export interface AdminRequestRow {
  id: string;
  accessPackageId: string;
  packageName: string;
  catalogName: string;
  requestorName: string;
  requestorEmail: string;
  type: string;
  state: RequestState;
  submittedAt: Date;
}

/** Requests in the scope, newest first (keyset on submitted_at, id). */
export async function requestsInScope(db: Knex, scope: AdminScope, filter: AdminRequestFilter, page: PageRequest, limit: number): Promise<AdminRequestRow[]> {
  const q = db('requests as r')
    .join('access_packages as p', 'p.id', 'r.access_package_id')
    .join('catalogs as c', 'c.id', 'p.catalog_id')
    .join('users as u', 'u.id', 'r.target_user_id')
    .select(
      'r.id',
      'r.access_package_id as accessPackageId',
      'p.name as packageName',
      'c.name as catalogName',
      'u.display_name as requestorName',
      'u.email as requestorEmail',
      'r.type',
      'r.state',
      'r.submitted_at as submittedAt',
    );
  inScope(q, scope, { directory: 'r.directory_id', catalog: 'p.catalog_id' });
  if (filter.state) q.where('r.state', filter.state);
  if (filter.catalogId) q.where('p.catalog_id', filter.catalogId);
  if (filter.packageId) q.where('r.access_package_id', filter.packageId);
  if (page.after) q.whereRaw('(r.submitted_at, r.id) < (?, ?)', page.after as [Date, string]);
  if (page.before) q.whereRaw('(r.submitted_at, r.id) > (?, ?)', page.before as [Date, string]);
  const dir = page.before ? 'asc' : 'desc';
  return q.orderByRaw(`r.submitted_at ${dir}, r.id ${dir}`).limit(limit + 1);
}

/** The catalog of a request's package, when the request is in the scope. */
export async function requestCatalogInScope(db: Knex, scope: AdminScope, requestId: string): Promise<{ catalogId: string; catalogName: string } | null> {
  const q = db('requests as r')
    .join('access_packages as p', 'p.id', 'r.access_package_id')
    .join('catalogs as c', 'c.id', 'p.catalog_id')
    .where('r.id', requestId)
    .first('c.id as catalogId', 'c.name as catalogName');
  return (await inScope(q, scope, { directory: 'r.directory_id', catalog: 'p.catalog_id' })) ?? null;
}

/** The packages in the scope, for the Requests filter (bounded: large directories filter by catalog). */
export async function packagesInScope(db: Knex, scope: AdminScope): Promise<{ id: string; name: string; catalogId: string; catalogName: string }[]> {
  const q = db('access_packages as p')
    .join('catalogs as c', 'c.id', 'p.catalog_id')
    .orderByRaw('lower(c.name), c.id, lower(p.name), p.id')
    .limit(1000)
    .select('p.id', 'p.name', 'c.id as catalogId', 'c.name as catalogName');
  // By the catalog's directory, so that catalogs are read in name order from catalogs_listing.
  return inScope(q.where('p.directory_id', scope.directoryId), scope, { directory: 'c.directory_id', catalog: 'p.catalog_id' });
}
