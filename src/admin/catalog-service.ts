import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Actor } from '../audit/audit.ts';
import type { Clock } from '../clock.ts';
import { FieldErrors } from '../errors.ts';
import { toPage, type Page, type PageRequest } from '../shared/keyset.ts';
import { catalogInScope, otherPackages, packageInScope, packagesOfCatalog, policiesOfPackage, resourcesElsewhereOfPackage, resourcesOfCatalog, roleKeysOfPackage, searchCatalogs, type CatalogRow } from './data.ts';
import { catalogVersion, checkFormVersion, packageVersion, resourceVersion } from './form-version.ts';
import { editDirectory, located, type EditableFile } from './directory-edit.ts';
import { adminNotFound, managesCatalogId, requireAdministrator, type AdminScope } from './scope.ts';

export interface CatalogInput {
  name: string;
  description: string;
  enabled: boolean;
  owners: string[];
  /** The fingerprint of the catalog as the form showed it (see form-version.ts). */
  version?: string;
}

export interface ResourceInput {
  key: string;
  type: string;
  name: string;
  description: string;
  url: string;
  roles: string[];
  /** The fingerprint of the resource as the form showed it (see form-version.ts). */
  version?: string;
}

export interface PackageInput {
  name: string;
  description: string;
  hidden: boolean;
  /** `resourceKey::role` for each role the package grants. */
  resourceRoles: string[];
  incompatibleWith: string[];
  /** The fingerprint of the package as the form showed it (see form-version.ts). */
  version?: string;
}

type FileCatalog = EditableFile['catalogs'][number];
type FilePackage = NonNullable<FileCatalog['accessPackages']>[number];

/** Where a catalog sits in the exported file (catalogs are matched by name there). */
function catalogIndex(file: EditableFile, name: string): number {
  return located(file.catalogs.findIndex((c) => c.name === name));
}

export function locatePackage(file: EditableFile, packageId: string): { ci: number; pi: number; pkg: FilePackage } {
  for (let ci = 0; ci < file.catalogs.length; ci++) {
    const pi = (file.catalogs[ci].accessPackages ?? []).findIndex((p) => p.id === packageId);
    if (pi >= 0) return { ci, pi, pkg: file.catalogs[ci].accessPackages![pi] };
  }
  return located<{ ci: number; pi: number; pkg: FilePackage }>(null);
}

/** Catalogs per page on the administration home. */
const CATALOG_PAGE_SIZE = 50;

const labelFor = (labels: Record<string, string>) => (suffix: string) => {
  const field = suffix.replace(/\[\d+\].*$/, '').replace(/\..*$/, '');
  return labels[field] ? { field, label: labels[field] } : undefined;
};

export function createCatalogAdmin(deps: { db: Knex; clock: Clock }) {
  const { db, clock } = deps;

  async function catalogOrNotFound(scope: AdminScope, id: string) {
    const catalog = await catalogInScope(db, scope, id);
    if (!catalog) throw adminNotFound();
    return catalog;
  }

  return {
    /** The catalogs in scope, a page at a time, found by name. */
    async list(scope: AdminScope, text: string, page: PageRequest): Promise<Page<CatalogRow>> {
      return toPage(await searchCatalogs(db, scope, text, page, CATALOG_PAGE_SIZE), CATALOG_PAGE_SIZE, page, (c) => [c.sortName, c.id]);
    },

    /** The fingerprint the resource form carries (see form-version.ts). */
    resourceVersion: (resourceId: string) => resourceVersion(db, resourceId),

    async get(scope: AdminScope, id: string) {
      // The version is read before what the form shows: a save in between makes the form's save a
      // 409 (it shows newer values than its version), never a silent overwrite.
      const version = await catalogVersion(db, id);
      const catalog = await catalogOrNotFound(scope, id);
      const [resources, packages] = await Promise.all([resourcesOfCatalog(db, id), packagesOfCatalog(db, id)]);
      return { catalog, resources, packages, version };
    },

    /** Creates (id null, administrators only) or changes a catalog: name, description, enabled, owners. */
    async saveCatalog(scope: AdminScope, id: string | null, input: CatalogInput, actor: Actor): Promise<string> {
      if (!id) requireAdministrator(scope);
      const current = id ? await catalogOrNotFound(scope, id) : null;
      const errors = new FieldErrors();
      if (!input.name.trim()) errors.add('name', 'Enter a name for the catalog');
      if (current && input.name.trim() !== current.name && (await db('catalogs').where({ directory_id: scope.directoryId, name: input.name.trim() }).first('id'))) {
        errors.add('name', `There is already a catalog called ${input.name.trim()}`);
      }
      errors.throwIfAny();
      let createdId = '';
      return editDirectory(db, clock, actor, scope.directoryId, async (file, trx) => {
        if (current) checkFormVersion(input.version, await catalogVersion(trx, current.id), `the catalog ${current.name}`);
        const next: FileCatalog = { name: input.name.trim(), description: input.description.trim(), enabled: input.enabled, owners: input.owners, resources: [], accessPackages: [] };
        if (!current) {
          file.catalogs.push(next);
          const ci = file.catalogs.length - 1;
          return {
            path: `catalogs[${ci}]`,
            fieldFor: labelFor({ name: 'Name', description: 'Description', owners: 'Owners' }),
            // The new catalog's id, once the import has written it: for the audit entry and the caller.
            audit: { action: 'catalog.created', targetType: 'catalog', targetId: async (t) => (createdId = (await t('catalogs').where({ directory_id: scope.directoryId, name: next.name }).first('id')).id), label: next.name },
            before: null,
            after: () => file.catalogs[ci],
            result: '',
          };
        }
        const ci = catalogIndex(file, current.name);
        const before = structuredClone(file.catalogs[ci]);
        // Catalogs are matched by name: a rename is applied to the row first, so the import finds it.
        if (next.name !== current.name) await trx('catalogs').where({ id: current.id }).update({ name: next.name });
        Object.assign(file.catalogs[ci], { name: next.name, description: next.description, enabled: next.enabled, owners: next.owners });
        return {
          path: `catalogs[${ci}]`,
          fieldFor: labelFor({ name: 'Name', description: 'Description', owners: 'Owners' }),
          audit: { action: 'catalog.updated', targetType: 'catalog', targetId: current.id, label: next.name },
          before,
          after: () => file.catalogs[ci],
          result: current.id,
        };
      }).then((resultId) => resultId || createdId);
    },

    /** Adds (resourceId null) or changes a resource of a catalog. */
    async saveResource(scope: AdminScope, catalogId: string, resourceId: string | null, input: ResourceInput, actor: Actor): Promise<void> {
      const catalog = await catalogOrNotFound(scope, catalogId);
      const current = resourceId ? await db('resources').where({ id: resourceId, catalog_id: catalogId }).first('id', 'key') : null;
      if (resourceId && !current) throw adminNotFound();
      const errors = new FieldErrors();
      if (!input.key.trim()) errors.add('key', 'Enter a key for the resource');
      if (input.roles.length === 0) errors.add('roles', 'Enter at least one role, one per line');
      errors.throwIfAny();
      const labels = { key: 'Key', type: 'Type', name: 'Name', description: 'Description', url: 'Web address', roles: 'Roles' };
      await editDirectory(db, clock, actor, scope.directoryId, async (file, trx) => {
        const ci = catalogIndex(file, catalog.name);
        const resources = (file.catalogs[ci].resources ??= []);
        const next = {
          key: input.key.trim(),
          type: input.type as 'group' | 'application' | 'site',
          name: input.name.trim(),
          ...(input.description.trim() ? { description: input.description.trim() } : {}),
          ...(input.url.trim() ? { url: input.url.trim() } : {}),
          roles: input.roles,
        };
        let ri: number;
        let before: unknown = null;
        if (current) {
          checkFormVersion(input.version, await resourceVersion(trx, current.id), `the resource ${current.key}`);
          ri = located(resources.findIndex((r) => r.key === current.key));
          before = structuredClone(resources[ri]);
          if (next.key !== current.key) {
            // The rename changes the row before the import checks the file, so a key in use is refused here (under the directory's lock).
            const taken = await trx('resources as r').join('catalogs as c', 'c.id', 'r.catalog_id').where({ 'r.directory_id': scope.directoryId, 'r.key': next.key }).first('c.name');
            if (taken) new FieldErrors().add('key', `Key: another resource has the key ${next.key} (in the catalog ${taken.name})`).throwIfAny();
            // Resources are matched by key: rename the row first, and the packages that grant its roles.
            await trx('resources').where({ id: current.id }).update({ key: next.key });
            for (const c of file.catalogs) for (const p of c.accessPackages ?? []) for (const rr of p.resourceRoles ?? []) if (rr.resource === current.key) rr.resource = next.key;
            for (const r of file.accessReviews) if (r.scope.resource === current.key) r.scope.resource = next.key;
          }
          resources[ri] = next;
        } else {
          resources.push(next);
          ri = resources.length - 1;
        }
        return {
          path: `catalogs[${ci}].resources[${ri}]`,
          fieldFor: labelFor(labels),
          audit: {
            action: current ? 'resource.updated' : 'resource.created',
            targetType: 'resource',
            targetId: current ? current.id : async (t) => (await t('resources').where({ directory_id: scope.directoryId, key: next.key }).first('id')).id,
            label: next.name,
          },
          before,
          after: () => resources[ri],
          result: undefined,
        };
      });
    },

    async removeResource(scope: AdminScope, catalogId: string, resourceId: string, actor: Actor): Promise<void> {
      const catalog = await catalogOrNotFound(scope, catalogId);
      const current = await db('resources').where({ id: resourceId, catalog_id: catalogId }).first('id', 'key', 'name');
      if (!current) throw adminNotFound();
      await editDirectory(db, clock, actor, scope.directoryId, (file) => {
        const ci = catalogIndex(file, catalog.name);
        const resources = file.catalogs[ci].resources ?? [];
        const ri = located(resources.findIndex((r) => r.key === current.key));
        const before = resources.splice(ri, 1)[0];
        return {
          path: `catalogs[${ci}].resources`,
          fieldFor: () => undefined,
          audit: { action: 'resource.removed', targetType: 'resource', targetId: current.id, label: current.name },
          before,
          after: () => null,
          result: undefined,
        };
      });
    },

    /**
     * A package and what its form offers; `shown` are incompatible packages a re-shown form has
     * ticked, `find` what its picker was asked to find (in a directory with many packages).
     */
    async getPackage(scope: AdminScope, id: string, shown: string[] = [], find = '') {
      const version = await packageVersion(db, id); // before what the form shows, as in get()
      const pkg = await packageInScope(db, scope, id);
      if (!pkg) throw adminNotFound();
      const incompatible: string[] = await db('access_package_incompatibles').where({ access_package_id: id }).pluck('incompatible_id');
      const [ownResources, resourcesElsewhere, policies, grants, others] = await Promise.all([
        resourcesOfCatalog(db, pkg.catalogId),
        resourcesElsewhereOfPackage(db, id, pkg.catalogId),
        policiesOfPackage(db, id),
        roleKeysOfPackage(db, id),
        otherPackages(db, scope.directoryId, id, [...incompatible, ...shown], find),
      ]);
      return { pkg, resources: [...ownResources, ...resourcesElsewhere], policies, selectedRoles: grants, incompatible, others, version };
    },

    /** Creates (packageId null) or changes an access package of a catalog. Returns its id. */
    async savePackage(scope: AdminScope, catalogId: string, packageId: string | null, input: PackageInput, actor: Actor): Promise<string> {
      const catalog = await catalogOrNotFound(scope, catalogId);
      if (packageId && !(await packageInScope(db, scope, packageId))) throw adminNotFound();
      const errors = new FieldErrors();
      if (!input.name.trim()) errors.add('name', 'Enter a name for the access package');
      // Roles come from this catalog's resources (what the form offers). The file format lets a
      // package use any catalog's resource, so roles a package already has are kept; but a catalog
      // owner must not add a role of a catalog they do not own (say, an administrators' group).
      const offered = new Set((await resourcesOfCatalog(db, catalogId)).flatMap((r) => r.roles.map((role) => `${r.key}::${role}`)));
      const held = new Set(packageId ? await roleKeysOfPackage(db, packageId) : []);
      const foreign = input.resourceRoles.filter((v) => !offered.has(v) && !held.has(v));
      if (foreign.length) errors.add('resourceRoles', `Choose roles of this catalog’s resources: ${foreign.map((v) => v.replace('::', ' – ')).join(', ')} ${foreign.length === 1 ? 'is' : 'are'} not among them`);
      errors.throwIfAny();
      const labels = { name: 'Name', description: 'Description', hidden: 'Hidden', resourceRoles: 'Resource roles', incompatibleWith: 'Incompatible access packages' };
      return editDirectory(db, clock, actor, scope.directoryId, async (file, trx) => {
        const resourceRoles = input.resourceRoles.map((v) => {
          const [resource, ...role] = v.split('::');
          return { resource, role: role.join('::') };
        });
        const fields = { name: input.name.trim(), description: input.description.trim(), hidden: input.hidden, resourceRoles, incompatibleWith: input.incompatibleWith };
        if (packageId) {
          const { ci, pi, pkg } = locatePackage(file, packageId);
          checkFormVersion(input.version, await packageVersion(trx, packageId), `the access package ${pkg.name}`);
          const before = structuredClone(pkg);
          Object.assign(pkg, fields);
          return {
            path: `catalogs[${ci}].accessPackages[${pi}]`,
            fieldFor: labelFor(labels),
            audit: { action: 'accessPackage.updated', targetType: 'accessPackage', targetId: packageId, label: fields.name },
            before,
            after: () => file.catalogs[ci].accessPackages![pi],
            result: packageId,
          };
        }
        const ci = catalogIndex(file, catalog.name);
        const id = randomUUID();
        const packages = (file.catalogs[ci].accessPackages ??= []);
        packages.push({ id, ...fields, policies: [] });
        const pi = packages.length - 1;
        return {
          path: `catalogs[${ci}].accessPackages[${pi}]`,
          fieldFor: labelFor(labels),
          audit: { action: 'accessPackage.created', targetType: 'accessPackage', targetId: id, label: fields.name },
          before: null,
          after: () => packages[pi],
          result: id,
        };
      });
    },

    /** Removes a package; the import refuses when requests or assignments refer to it, and says so. */
    async removePackage(scope: AdminScope, packageId: string, actor: Actor): Promise<string> {
      const pkg = await packageInScope(db, scope, packageId);
      if (!pkg) throw adminNotFound();
      if (pkg.liveAssignments > 0) {
        new FieldErrors()
          .add('form', `${pkg.name} has ${pkg.liveAssignments} active ${pkg.liveAssignments === 1 ? 'assignment' : 'assignments'}. Remove ${pkg.liveAssignments === 1 ? 'it' : 'them'} first: an access package with live access cannot be removed.`, '#main')
          .throwIfAny();
      }
      await editDirectory(db, clock, actor, scope.directoryId, (file) => {
        const { ci, pi } = locatePackage(file, packageId);
        const [before] = file.catalogs[ci].accessPackages!.splice(pi, 1);
        // Its ended assignments go with it from the file; the import then judges its history.
        file.assignments = file.assignments.filter((a) => a.accessPackage !== packageId);
        for (const c of file.catalogs) for (const p of c.accessPackages ?? []) p.incompatibleWith = (p.incompatibleWith ?? []).filter((x) => x !== packageId);
        return {
          path: `catalogs[${ci}].accessPackages`,
          fieldFor: () => undefined,
          audit: { action: 'accessPackage.removed', targetType: 'accessPackage', targetId: packageId, label: pkg.name },
          before,
          after: () => null,
          result: undefined,
        };
      });
      return pkg.catalogId;
    },

    managesCatalog: (scope: AdminScope, catalogId: string) => managesCatalogId(scope, catalogId),
  };
}

export type CatalogAdmin = ReturnType<typeof createCatalogAdmin>;
