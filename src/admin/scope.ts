import type { Knex } from 'knex';
import type { CurrentUser } from '../auth/current-user.ts';
import { notFound } from '../errors.ts';

/**
 * What a person may administer: everything in their directory for administrators; for catalog
 * owners, their catalogs (with the resources, packages, policies, assignments, requests and
 * reviews in them). Anything else is answered as if it did not exist.
 */
export interface AdminScope {
  user: CurrentUser;
  directoryId: string;
  isAdmin: boolean;
  /** Catalog ids a catalog owner manages (every catalog for an administrator: null). */
  catalogIds: string[] | null;
}

export const adminNotFound = () => notFound('Page not found', 'There is nothing at this address that you can administer.');

export async function adminScope(db: Knex, user: CurrentUser): Promise<AdminScope> {
  if (user.isAdmin) return { user, directoryId: user.directory.id, isAdmin: true, catalogIds: null };
  const catalogIds: string[] = await db('catalog_owners as o')
    .join('catalogs as c', 'c.id', 'o.catalog_id')
    .where({ 'o.user_id': user.id, 'c.directory_id': user.directory.id })
    .pluck('c.id');
  if (catalogIds.length === 0) throw adminNotFound();
  return { user, directoryId: user.directory.id, isAdmin: false, catalogIds };
}

export function requireAdministrator(scope: AdminScope): void {
  if (!scope.isAdmin) throw adminNotFound();
}

/** Limits a query to the scope: its directory, and for catalog owners their catalogs. */
export function inScope<Q extends Knex.QueryBuilder>(q: Q, scope: AdminScope, columns: { directory: string; catalog: string }): Q {
  q.where(columns.directory, scope.directoryId);
  if (scope.catalogIds) q.whereIn(columns.catalog, scope.catalogIds);
  return q;
}

export function managesCatalogId(scope: AdminScope, catalogId: string): boolean {
  return scope.catalogIds === null || scope.catalogIds.includes(catalogId);
}
