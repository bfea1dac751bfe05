import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { ROLES_OF_RESOURCE } from './data.ts';

/**
 * Edit forms carry a fingerprint of the object as they showed it. Saving compares it with the object
 * as it is now, under the directory's lock: a form opened before someone else saved the same object
 * is refused (409) instead of silently putting back what the other person changed.
 */
export function formVersion(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('base64url').slice(0, 22);
}

/** Someone else saved the object after this form was opened. */
export class StaleForm extends Error {
  constructor(what: string) {
    super(`Someone else saved ${what} after you opened this page, so your changes were not saved. The form now shows ${what} as it is: make your changes again.`);
  }
}

/** Refuses a form whose fingerprint is not the object's now. A form sent without one (an older page) is not checked. */
export function checkFormVersion(sent: string | undefined, current: string, what: string): void {
  if (sent && sent !== current) throw new StaleForm(what);
}

/** What the package form edits, as stored. */
export async function packageVersion(db: Knex, packageId: string): Promise<string> {
  const row = await db('access_packages as p')
    .where('p.id', packageId)
    .first(
      'p.name',
      'p.description',
      'p.hidden',
      db.raw(`coalesce((select array_agg(r.key || '::' || rr.name order by r.key, rr.name) from access_package_resource_roles a join resource_roles rr on rr.id = a.resource_role_id join resources r on r.id = rr.resource_id where a.access_package_id = p.id), '{}') as roles`),
      db.raw(`coalesce((select array_agg(i.incompatible_id::text order by i.incompatible_id) from access_package_incompatibles i where i.access_package_id = p.id), '{}') as incompatible`),
    );
  return formVersion(row ?? null);
}

/** What the catalog form edits, as stored. */
export async function catalogVersion(db: Knex, catalogId: string): Promise<string> {
  const row = await db('catalogs as c')
    .where('c.id', catalogId)
    .first('c.name', 'c.description', 'c.enabled', db.raw(`coalesce((select array_agg(o.user_id::text order by o.user_id) from catalog_owners o where o.catalog_id = c.id), '{}') as owners`));
  return formVersion(row ?? null);
}

/** What the resource form edits, as stored. */
export async function resourceVersion(db: Knex, resourceId: string): Promise<string> {
  const row = await db('resources as r')
    .where('r.id', resourceId)
    .first('r.key', 'r.type', 'r.name', 'r.description', 'r.url', db.raw(ROLES_OF_RESOURCE));
  return formVersion(row ?? null);
}
