import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Knex } from 'knex';
import { recordAudit, type Actor } from '../audit/audit.ts';
import { hashPassword, isPasswordHash, verifyPassword } from '../auth/password.ts';
import type { Clock } from '../clock.ts';
import {
  normalizeSignIn,
  relativeOffset,
  resolveDate,
  resourceRoles,
  type ParsedApprover,
  type ParsedDirectory,
  type ParsedPolicy,
  type ParsedStage,
} from './format.ts';
import { nonZeroCounts, PlanBuilder, type ImportPlan } from './plan.ts';
import { parseDirectoryFile, type Problem } from './validate.ts';

export type { ImportPlan, PlanChange, ObjectKind, PlanAction } from './plan.ts';
export { renderPlan } from './plan.ts';
export type { Problem } from './validate.ts';

export interface ImportOptions {
  /** Work out and return the plan, then roll everything back. */
  dryRun: boolean;
  clock: Clock;
  actor: Actor;
  /**
   * An administrator's edit made through the file (admin/directory-edit.ts): it records its own
   * audit entry, so the import writes no `directory.imported` entry and is no import moment.
   */
  edit?: boolean;
}

/** `applied` is true when changes were written (not a dry run, and the file differed from the database). */
export type ImportResult = { ok: true; plan: ImportPlan; applied: boolean } | { ok: false; problems: Problem[] };

/** Stored in place of a hash during a dry run, which is always rolled back: hashing would only cost time. */
const DRY_RUN_HASH = 'dry-run-not-hashed';
const CHUNK = 500;
const HASH_CONCURRENCY = Math.max(2, Math.min(8, os.availableParallelism()));

class Rollback extends Error {
  result: ImportResult;
  constructor(result: ImportResult) {
    super('rollback');
    this.result = result;
  }
}

/**
 * Imports a directory file: validates it completely, then in ONE transaction (the directory row
 * locked FOR UPDATE, so two imports of a directory run one after the other) brings the directory
 * to what the file says. A file with problems, a refused removal, or a dry run changes nothing.
 * See FORMAT.md for matching, removal and idempotency rules.
 */
export async function importDirectory(db: Knex, input: unknown, options: ImportOptions): Promise<ImportResult> {
  const now = options.clock.now();
  const parsed = parseDirectoryFile(input, now);
  if (!parsed.ok) return { ok: false, problems: parsed.problems };
  try {
    return await db.transaction(async (trx) => {
      const result = await run(trx, parsed.file, now, options);
      if (!result.ok || options.dryRun) throw new Rollback(result);
      return result;
    });
  } catch (e) {
    if (e instanceof Rollback) return e.result;
    throw e;
  }
}

/**
 * The same import inside a transaction the caller holds. Problems come back unapplied, but the
 * caller must roll back (throw) itself when the result is not ok: part of the work may be written.
 */
export async function importDirectoryWith(trx: Knex.Transaction, input: unknown, options: Omit<ImportOptions, 'dryRun'>): Promise<ImportResult> {
  const now = options.clock.now();
  const parsed = parseDirectoryFile(input, now);
  if (!parsed.ok) return { ok: false, problems: parsed.problems };
  return run(trx, parsed.file, now, { ...options, dryRun: false });
}

// ---- helpers ------------------------------------------------------------------------------------

function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

async function insertRows(trx: Knex.Transaction, table: string, rows: Record<string, unknown>[]): Promise<void> {
  for (const chunk of chunks(rows)) await trx(table).insert(chunk);
}

type Column = [name: string, pgType: string];

/** Updates many rows by id in a few statements: `update t set ... from (values ...) v where t.id = v.id`. */
async function bulkUpdate(trx: Knex.Transaction, table: string, columns: Column[], rows: Record<string, unknown>[]): Promise<void> {
  if (rows.length === 0) return;
  const names = columns.map(([c]) => `"${c}"`).join(', ');
  const sets = columns.map(([c]) => `"${c}" = v."${c}"`).join(', ');
  const tuple = `(?::uuid, ${columns.map(([, t]) => `?::${t}`).join(', ')})`;
  for (const chunk of chunks(rows, Math.floor(CHUNK / 2))) {
    const bindings: unknown[] = [];
    for (const row of chunk) {
      bindings.push(row.id);
      for (const [c, t] of columns) bindings.push(sqlValue(row[c], t));
    }
    await trx.raw(`update ${table} as t set ${sets} from (values ${chunk.map(() => tuple).join(', ')}) as v(id, ${names}) where t.id = v.id`, bindings as Knex.RawBinding[]);
  }
}

function sqlValue(value: unknown, pgType: string): unknown {
  if (value === undefined || value === null) return null;
  if (value instanceof Date) return value.toISOString();
  if (pgType === 'jsonb') return JSON.stringify(value);
  return value;
}

async function deleteByIds(trx: Knex.Transaction, table: string, ids: readonly string[], column = 'id'): Promise<void> {
  for (const chunk of chunks(ids)) await trx(table).whereIn(column, chunk).del();
}

/** A pair relation (group_members, user_sponsors, ...) brought to the desired set of (a, b) pairs. */
async function syncPairs(
  trx: Knex.Transaction,
  table: string,
  [colA, colB]: [string, string],
  existing: readonly [string, string][],
  desired: readonly [string, string][],
  onChange: (a: string) => void,
): Promise<void> {
  const key = ([a, b]: readonly [string, string]) => `${a}|${b}`;
  const have = new Set(existing.map(key));
  const want = new Set(desired.map(key));
  const inserts = new Map<string, [string, string]>();
  for (const p of desired) if (!have.has(key(p))) inserts.set(key(p), p);
  const deletes = existing.filter((p) => !want.has(key(p)));
  for (const [a] of inserts.values()) onChange(a);
  for (const [a] of deletes) onChange(a);
  await insertRows(trx, table, [...inserts.values()].map(([a, b]) => ({ [colA]: a, [colB]: b })));
  for (const chunk of chunks(deletes)) {
    await trx.raw(
      `delete from ${table} where (${colA}, ${colB}) in (${chunk.map(() => '(?::uuid, ?::uuid)').join(', ')})`,
      chunk.flat(),
    );
  }
}

/** JSON with object keys sorted, to compare jsonb values whatever order the database returns keys in. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as object).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

const time = (d: Date | string | null | undefined): number | null => (d === null || d === undefined ? null : new Date(d).getTime());
const sameTime = (a: Date | string | null | undefined, b: Date | string | null | undefined) => time(a) === time(b);
const uniq = <T>(items: readonly T[]) => [...new Set(items)];
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

// ---- rows ---------------------------------------------------------------------------------------

interface UserRow {
  id: string;
  email: string;
  display_name: string;
  password_hash: string | null;
  type: string;
  manager_id: string | null;
  attributes: Record<string, string>;
  is_admin: boolean;
  last_sign_in_at: Date | null;
  disabled_at: Date | null;
}
interface PolicyRow {
  id: string;
  access_package_id: string;
  name: string;
  description: string;
  position: number;
  requestor_scope: string;
  accept_requests: boolean;
  require_justification: boolean;
  questions: unknown;
  requestor_attributes: unknown;
  expiration_kind: string;
  expiration_days: number | null;
  expiration_hours: number | null;
  expiration_date: Date | null;
  allow_custom_period: boolean;
}
interface AssignmentRow {
  id: string;
  access_package_id: string;
  policy_id: string;
  user_id: string;
  origin: string;
  state: string;
  starts_at: Date;
  ends_at: Date | null;
  end_reason: string | null;
}

// ---- the import -----------------------------------------------------------------------------------

async function run(trx: Knex.Transaction, file: ParsedDirectory, now: Date, options: ImportOptions): Promise<ImportResult> {
  const plan = new PlanBuilder();
  const problems: Problem[] = [];
  const hint = file.directory.hint;
  const signIn = normalizeSignIn(file.directory.signIn);

  // The directory row, created if new, locked so that concurrent imports of it serialize.
  const inserted = await trx('directories')
    .insert({ hint, name: file.directory.name, sign_in: JSON.stringify(signIn) })
    .onConflict('hint')
    .ignore()
    .returning('id');
  const newDirectory = inserted.length > 0;
  const dir = (await trx('directories').where({ hint }).forUpdate().first('id', 'name', 'sign_in', 'last_imported_at')) as {
    id: string;
    name: string;
    sign_in: unknown;
    last_imported_at: Date | null;
  };
  const dirId = dir.id;
  if (newDirectory) plan.create('directory', dirId, hint);
  else {
    if (dir.name !== file.directory.name) plan.update('directory', dirId, hint, 'name');
    if (canonical(dir.sign_in) !== canonical(signIn)) plan.update('directory', dirId, hint, 'signIn');
  }

  // The moments of earlier imports: a relative date whose stored value is `anchor + offset` is unchanged.
  const anchors = new Set<number>();
  if (dir.last_imported_at) anchors.add(time(dir.last_imported_at)!);
  for (const row of await trx('audit_log').where({ directory_id: dirId, action: 'directory.imported' }).select('at')) {
    anchors.add(time(row.at as Date)!);
  }
  /** A file date as a moment: relative dates keep their stored value when an earlier import explains it. */
  const when = (value: string, stored: Date | null | undefined): Date => {
    const offset = relativeOffset(value);
    if (offset !== null && stored && anchors.has(time(stored)! - offset)) return new Date(stored);
    return resolveDate(value, now);
  };

  // ---- users ------------------------------------------------------------------------------------
  const existingUsers = (await trx('users')
    .where({ directory_id: dirId })
    .select('id', 'email', 'display_name', 'password_hash', 'type', 'manager_id', 'attributes', 'is_admin', 'last_sign_in_at', 'disabled_at')) as UserRow[];
  const userByEmail = new Map(existingUsers.map((u) => [u.email, u]));
  const userId = new Map<string, string>(); // email → id, for everyone in the file
  const fileUserIds = new Set<string>();
  for (const u of file.users) {
    const id = userByEmail.get(u.email)?.id ?? randomUUID();
    userId.set(u.email, id);
    fileUserIds.add(id);
  }
  const uid = (email: string) => userId.get(email)!;

  const hashes = await mapLimit(file.users, HASH_CONCURRENCY, async (u) => {
    if (u.passwordHash !== undefined) return u.passwordHash;
    if (u.password === undefined) return null;
    const stored = userByEmail.get(u.email)?.password_hash;
    if (stored && isPasswordHash(stored) && (await verifyPassword(u.password, stored))) return stored;
    return options.dryRun ? DRY_RUN_HASH : hashPassword(u.password);
  });

  const userInserts: Record<string, unknown>[] = [];
  const userUpdates: Record<string, unknown>[] = [];
  const managerUpdates: Record<string, unknown>[] = [];
  file.users.forEach((u, i) => {
    const ex = userByEmail.get(u.email);
    const id = uid(u.email);
    const row = {
      display_name: u.displayName,
      type: u.type,
      is_admin: u.roles.includes('admin'),
      attributes: u.attributes,
      last_sign_in_at: u.lastSignIn ? when(u.lastSignIn, ex?.last_sign_in_at) : null,
      password_hash: hashes[i],
    };
    const managerId = u.manager ? uid(u.manager) : null;
    if (!ex) {
      userInserts.push({ id, directory_id: dirId, email: u.email, ...row, attributes: JSON.stringify(row.attributes), created_at: now, updated_at: now });
      plan.create('user', id, u.email);
      if (managerId) managerUpdates.push({ id, manager_id: managerId });
      return;
    }
    const fields: string[] = [];
    if (ex.display_name !== row.display_name) fields.push('displayName');
    if (ex.type !== row.type) fields.push('type');
    if (ex.is_admin !== row.is_admin) fields.push('roles');
    if (canonical(ex.attributes) !== canonical(row.attributes)) fields.push('attributes');
    if (!sameTime(ex.last_sign_in_at, row.last_sign_in_at)) fields.push('lastSignIn');
    if (ex.password_hash !== row.password_hash) fields.push(u.passwordHash !== undefined ? 'passwordHash' : 'password');
    if (ex.disabled_at) fields.push('enabled');
    if (fields.length) {
      userUpdates.push({ id, ...row, disabled_at: null, updated_at: now });
      plan.update('user', id, u.email, ...fields);
    }
    if (ex.manager_id !== managerId) {
      managerUpdates.push({ id, manager_id: managerId });
      plan.update('user', id, u.email, 'manager');
    }
  });
  await insertRows(trx, 'users', userInserts);
  await bulkUpdate(
    trx,
    'users',
    [
      ['display_name', 'text'],
      ['type', 'text'],
      ['is_admin', 'boolean'],
      ['attributes', 'jsonb'],
      ['last_sign_in_at', 'timestamptz'],
      ['password_hash', 'text'],
      ['disabled_at', 'timestamptz'],
      ['updated_at', 'timestamptz'],
    ],
    userUpdates,
  );
  await bulkUpdate(trx, 'users', [['manager_id', 'uuid']], managerUpdates);
  // Access reviews list people by their name in lowercase, stored on each item: a rename moves them.
  for (const chunk of chunks(userUpdates.map((u) => u.id as string))) {
    await trx.raw(
      `update access_review_items it set subject_sort_name = lower(u.display_name) from users u
       where u.id = it.subject_user_id and u.id = any(?::uuid[]) and it.subject_sort_name <> lower(u.display_name)`,
      [chunk],
    );
  }

  const emailOf = new Map<string, string>([...userId].map(([email, id]) => [id, email]));
  const markUser = (field: string) => (id: string) => {
    if (fileUserIds.has(id)) plan.update('user', id, emailOf.get(id)!, field);
  };
  const existingSponsors = (await trx('user_sponsors as s')
    .join('users as u', 'u.id', 's.user_id')
    .where('u.directory_id', dirId)
    .select('s.user_id', 's.sponsor_id')) as { user_id: string; sponsor_id: string }[];
  await syncPairs(
    trx,
    'user_sponsors',
    ['user_id', 'sponsor_id'],
    existingSponsors.map((r) => [r.user_id, r.sponsor_id]),
    file.users.flatMap((u) => uniq(u.sponsors).map((s): [string, string] => [uid(u.email), uid(s)])),
    markUser('sponsors'),
  );

  // ---- groups -----------------------------------------------------------------------------------
  const existingGroups = (await trx('groups').where({ directory_id: dirId }).select('id', 'key', 'name')) as { id: string; key: string; name: string }[];
  const groupByKey = new Map(existingGroups.map((g) => [g.key, g]));
  const groupId = new Map<string, string>();
  const groupInserts: Record<string, unknown>[] = [];
  for (const g of file.groups) {
    const ex = groupByKey.get(g.key);
    const id = ex?.id ?? randomUUID();
    groupId.set(g.key, id);
    if (!ex) {
      groupInserts.push({ id, directory_id: dirId, key: g.key, name: g.name, created_at: now, updated_at: now });
      plan.create('group', id, g.key);
    } else if (ex.name !== g.name) {
      await trx('groups').where({ id }).update({ name: g.name, updated_at: now });
      plan.update('group', id, g.key, 'name');
    }
  }
  await insertRows(trx, 'groups', groupInserts);
  const gid = (key: string) => groupId.get(key)!;
  const groupKeyOf = new Map([...groupId].map(([k, id]) => [id, k]));
  const existingMembers = (await trx('group_members as m')
    .join('groups as g', 'g.id', 'm.group_id')
    .where('g.directory_id', dirId)
    .select('m.group_id', 'm.user_id')) as { group_id: string; user_id: string }[];
  await syncPairs(
    trx,
    'group_members',
    ['group_id', 'user_id'],
    existingMembers.map((r) => [r.group_id, r.user_id]),
    file.groups.flatMap((g) => uniq(g.members).map((m): [string, string] => [gid(g.key), uid(m)])),
    (id) => {
      if (groupKeyOf.has(id)) plan.update('group', id, groupKeyOf.get(id)!, 'members');
    },
  );

  // ---- catalogs ---------------------------------------------------------------------------------
  const existingCatalogs = (await trx('catalogs').where({ directory_id: dirId }).select('id', 'name', 'description', 'enabled')) as {
    id: string;
    name: string;
    description: string;
    enabled: boolean;
  }[];
  const catalogByName = new Map(existingCatalogs.map((c) => [c.name, c]));
  const catalogIds: string[] = []; // by file index
  const catalogIndex = new Map<string, number>(); // id → file index
  const catalogInserts: Record<string, unknown>[] = [];
  for (const [ci, c] of file.catalogs.entries()) {
    const ex = catalogByName.get(c.name);
    const id = ex?.id ?? randomUUID();
    catalogIds.push(id);
    catalogIndex.set(id, ci);
    if (!ex) {
      catalogInserts.push({ id, directory_id: dirId, name: c.name, description: c.description, enabled: c.enabled, created_at: now, updated_at: now });
      plan.create('catalog', id, c.name);
      continue;
    }
    const fields: string[] = [];
    if (ex.description !== c.description) fields.push('description');
    if (ex.enabled !== c.enabled) fields.push('enabled');
    if (fields.length) {
      await trx('catalogs').where({ id }).update({ description: c.description, enabled: c.enabled, updated_at: now });
      plan.update('catalog', id, c.name, ...fields);
    }
  }
  await insertRows(trx, 'catalogs', catalogInserts);
  const existingOwners = (await trx('catalog_owners as o')
    .join('catalogs as c', 'c.id', 'o.catalog_id')
    .where('c.directory_id', dirId)
    .select('o.catalog_id', 'o.user_id')) as { catalog_id: string; user_id: string }[];
  await syncPairs(
    trx,
    'catalog_owners',
    ['catalog_id', 'user_id'],
    existingOwners.map((r) => [r.catalog_id, r.user_id]),
    file.catalogs.flatMap((c, ci) => uniq(c.owners).map((o): [string, string] => [catalogIds[ci], uid(o)])),
    (id) => {
      const ci = catalogIndex.get(id);
      if (ci !== undefined) plan.update('catalog', id, file.catalogs[ci].name, 'owners');
    },
  );
  const catalogPath = (catalogId: string, child: string) => {
    const ci = catalogIndex.get(catalogId);
    return ci === undefined ? 'catalogs' : `catalogs[${ci}].${child}`;
  };

  // ---- resources and their roles ------------------------------------------------------------
  const existingResources = (await trx('resources')
    .where({ directory_id: dirId })
    .select('id', 'catalog_id', 'key', 'type', 'name', 'description', 'url')) as {
    id: string;
    catalog_id: string;
    key: string;
    type: string;
    name: string;
    description: string;
    url: string | null;
  }[];
  const resourceByKey = new Map(existingResources.map((r) => [r.key, r]));
  const existingRoles = (await trx('resource_roles as rr')
    .join('resources as r', 'r.id', 'rr.resource_id')
    .where('r.directory_id', dirId)
    .select('rr.id', 'rr.resource_id', 'rr.name', 'rr.position')) as { id: string; resource_id: string; name: string; position: number }[];
  const rolesByResource = new Map<string, Map<string, { id: string; position: number }>>();
  for (const r of existingRoles) {
    if (!rolesByResource.has(r.resource_id)) rolesByResource.set(r.resource_id, new Map());
    rolesByResource.get(r.resource_id)!.set(r.name, { id: r.id, position: r.position });
  }
  const resourceId = new Map<string, string>();
  const roleId = new Map<string, string>(); // `${resourceKey}\n${role}` → id
  const resourceInserts: Record<string, unknown>[] = [];
  const roleInserts: Record<string, unknown>[] = [];
  const rolesToRemove: { id: string; name: string; resourceKey: string; path: string }[] = [];
  for (const [ci, c] of file.catalogs.entries()) {
    for (const [ri, r] of c.resources.entries()) {
      const ex = resourceByKey.get(r.key);
      const id = ex?.id ?? randomUUID();
      resourceId.set(r.key, id);
      const row = { catalog_id: catalogIds[ci], type: r.type, name: r.name, description: r.description, url: r.url ?? null };
      if (!ex) {
        resourceInserts.push({ id, directory_id: dirId, key: r.key, ...row, created_at: now, updated_at: now });
        plan.create('resource', id, r.key);
      } else {
        const fields: string[] = [];
        if (ex.catalog_id !== row.catalog_id) fields.push('catalog');
        if (ex.type !== row.type) fields.push('type');
        if (ex.name !== row.name) fields.push('name');
        if (ex.description !== row.description) fields.push('description');
        if (ex.url !== row.url) fields.push('url');
        if (fields.length) {
          await trx('resources').where({ id }).update({ ...row, updated_at: now });
          plan.update('resource', id, r.key, ...fields);
        }
      }
      const have = rolesByResource.get(id) ?? new Map<string, { id: string; position: number }>();
      const wanted = resourceRoles(r);
      for (const [position, name] of wanted.entries()) {
        const role = have.get(name);
        if (!role) {
          const newId = randomUUID();
          roleInserts.push({ id: newId, resource_id: id, name, position });
          roleId.set(`${r.key}\n${name}`, newId);
          if (ex) plan.update('resource', id, r.key, 'roles');
        } else {
          roleId.set(`${r.key}\n${name}`, role.id);
          if (role.position !== position) {
            await trx('resource_roles').where({ id: role.id }).update({ position });
            plan.update('resource', id, r.key, 'roles');
          }
        }
      }
      for (const [name, role] of have) {
        if (!wanted.includes(name)) {
          rolesToRemove.push({ id: role.id, name, resourceKey: r.key, path: `catalogs[${ci}].resources[${ri}].roles` });
          plan.update('resource', id, r.key, 'roles');
        }
      }
    }
  }
  await insertRows(trx, 'resources', resourceInserts);
  await insertRows(trx, 'resource_roles', roleInserts);

  // ---- access packages --------------------------------------------------------------------------
  const existingPackages = (await trx('access_packages')
    .where({ directory_id: dirId })
    .select('id', 'catalog_id', 'name', 'description', 'hidden')) as { id: string; catalog_id: string; name: string; description: string; hidden: boolean }[];
  const packageById = new Map(existingPackages.map((p) => [p.id, p]));
  const fileIds = file.catalogs.flatMap((c) => c.accessPackages.flatMap((p) => (p.id ? [p.id] : [])));
  const foreignPackages = new Set<string>();
  for (const chunk of chunks(fileIds)) {
    for (const row of await trx('access_packages').whereIn('id', chunk).whereNot('directory_id', dirId).select('id')) foreignPackages.add(row.id as string);
  }
  // Match by id first, then by name inside the catalog among packages no id claimed.
  const claimed = new Set(fileIds.filter((id) => packageById.has(id)));
  const packageIds: string[][] = []; // [catalog index][package index] → id
  const packageLabel = new Map<string, string>();
  const packageInserts: Record<string, unknown>[] = [];
  const matchedPackages = new Set<string>();
  const packagesByName = new Map<string, typeof existingPackages>();
  for (const x of existingPackages) {
    const k = `${x.catalog_id}\n${x.name}`;
    if (!packagesByName.has(k)) packagesByName.set(k, []);
    packagesByName.get(k)!.push(x);
  }
  for (const [ci, c] of file.catalogs.entries()) {
    packageIds.push([]);
    for (const [pi, p] of c.accessPackages.entries()) {
      const at = `catalogs[${ci}].accessPackages[${pi}]`;
      if (p.id && foreignPackages.has(p.id)) {
        problems.push({ path: `${at}.id`, message: `id ${p.id} is already used by an access package of another directory` });
      }
      let ex = p.id ? packageById.get(p.id) : undefined;
      if (!p.id) {
        ex = packagesByName.get(`${catalogIds[ci]}\n${p.name}`)?.find((x) => !claimed.has(x.id) && !matchedPackages.has(x.id));
      }
      const id = ex?.id ?? p.id ?? randomUUID();
      packageIds[ci].push(id);
      packageLabel.set(id, `${p.name} (${id})`);
      const row = { catalog_id: catalogIds[ci], name: p.name, description: p.description, hidden: p.hidden };
      if (!ex) {
        packageInserts.push({ id, directory_id: dirId, ...row, created_at: now, updated_at: now });
        plan.create('accessPackage', id, packageLabel.get(id)!);
        continue;
      }
      matchedPackages.add(id);
      const fields: string[] = [];
      if (ex.catalog_id !== row.catalog_id) fields.push('catalog');
      if (ex.name !== row.name) fields.push('name');
      if (ex.description !== row.description) fields.push('description');
      if (ex.hidden !== row.hidden) fields.push('hidden');
      if (fields.length) {
        await trx('access_packages').where({ id }).update({ ...row, updated_at: now });
        plan.update('accessPackage', id, packageLabel.get(id)!, ...fields);
      }
    }
  }
  if (problems.length) return { ok: false, problems };
  await insertRows(trx, 'access_packages', packageInserts);
  const packageByFileId = new Map<string, string>();
  file.catalogs.forEach((c, ci) => c.accessPackages.forEach((p, pi) => p.id && packageByFileId.set(p.id, packageIds[ci][pi])));
  const markPackage = (field: string) => (id: string) => {
    if (packageLabel.has(id)) plan.update('accessPackage', id, packageLabel.get(id)!, field);
  };
  const packageRoleChanged = new Set<string>();
  const existingPackageRoles = (await trx('access_package_resource_roles as x')
    .join('access_packages as p', 'p.id', 'x.access_package_id')
    .where('p.directory_id', dirId)
    .select('x.access_package_id', 'x.resource_role_id')) as { access_package_id: string; resource_role_id: string }[];
  await syncPairs(
    trx,
    'access_package_resource_roles',
    ['access_package_id', 'resource_role_id'],
    existingPackageRoles.map((r) => [r.access_package_id, r.resource_role_id]),
    file.catalogs.flatMap((c, ci) =>
      c.accessPackages.flatMap((p, pi) => uniq(p.resourceRoles.map((rr) => roleId.get(`${rr.resource}\n${rr.role}`)!)).map((r): [string, string] => [packageIds[ci][pi], r])),
    ),
    (id) => {
      packageRoleChanged.add(id);
      markPackage('resourceRoles')(id);
    },
  );
  const existingIncompatibles = (await trx('access_package_incompatibles as x')
    .join('access_packages as p', 'p.id', 'x.access_package_id')
    .where('p.directory_id', dirId)
    .select('x.access_package_id', 'x.incompatible_id')) as { access_package_id: string; incompatible_id: string }[];
  await syncPairs(
    trx,
    'access_package_incompatibles',
    ['access_package_id', 'incompatible_id'],
    existingIncompatibles.map((r) => [r.access_package_id, r.incompatible_id]),
    file.catalogs.flatMap((c, ci) => c.accessPackages.flatMap((p, pi) => uniq(p.incompatibleWith).map((o): [string, string] => [packageIds[ci][pi], packageByFileId.get(o)!]))),
    markPackage('incompatibleWith'),
  );

  // ---- policies ---------------------------------------------------------------------------------
  const existingPolicies = (await trx('policies as po')
    .join('access_packages as p', 'p.id', 'po.access_package_id')
    .where('p.directory_id', dirId)
    .select('po.*')) as PolicyRow[];
  const policiesByPackage = new Map<string, Map<string, PolicyRow>>();
  for (const po of existingPolicies) {
    if (!policiesByPackage.has(po.access_package_id)) policiesByPackage.set(po.access_package_id, new Map());
    policiesByPackage.get(po.access_package_id)!.set(po.name, po);
  }
  const policyIds = existingPolicies.map((p) => p.id);
  const requestorRows: { policy_id: string; user_id: string | null; group_id: string | null }[] = [];
  const stageRows: { id: string; policy_id: string; position: number; timeout_days: number; require_approver_justification: boolean; escalation_after_days: number | null }[] = [];
  const approverRows: { stage_id: string; role: string; type: string; user_id: string | null; group_id: string | null; position: number }[] = [];
  for (const chunk of chunks(policyIds)) {
    requestorRows.push(...(await trx('policy_requestors').whereIn('policy_id', chunk).select('policy_id', 'user_id', 'group_id')));
    stageRows.push(...(await trx('policy_stages').whereIn('policy_id', chunk).select('id', 'policy_id', 'position', 'timeout_days', 'require_approver_justification', 'escalation_after_days')));
  }
  for (const chunk of chunks(stageRows.map((s) => s.id))) {
    approverRows.push(...(await trx('policy_stage_approvers').whereIn('stage_id', chunk).select('stage_id', 'role', 'type', 'user_id', 'group_id', 'position')));
  }
  const requestorsOf = new Map<string, string[]>();
  for (const r of requestorRows) {
    if (!requestorsOf.has(r.policy_id)) requestorsOf.set(r.policy_id, []);
    requestorsOf.get(r.policy_id)!.push(r.user_id ? `u:${r.user_id}` : `g:${r.group_id}`);
  }
  const approversOf = new Map<string, typeof approverRows>();
  for (const a of approverRows) {
    if (!approversOf.has(a.stage_id)) approversOf.set(a.stage_id, []);
    approversOf.get(a.stage_id)!.push(a);
  }
  const stagesOf = new Map<string, string>(); // policy id → canonical approval
  const stagesByPolicy = new Map<string, typeof stageRows>();
  for (const s of stageRows) {
    if (!stagesByPolicy.has(s.policy_id)) stagesByPolicy.set(s.policy_id, []);
    stagesByPolicy.get(s.policy_id)!.push(s);
  }
  const ROLE_ORDER = ['primary', 'fallback', 'escalation'];
  for (const [policyId, stages] of stagesByPolicy) {
    const shape = stages
      .sort((a, b) => a.position - b.position)
      .map((s) => ({
        t: s.timeout_days,
        j: s.require_approver_justification,
        e: s.escalation_after_days,
        a: (approversOf.get(s.id) ?? [])
          .sort((x, y) => ROLE_ORDER.indexOf(x.role) - ROLE_ORDER.indexOf(y.role) || x.position - y.position)
          .map((x) => [x.role, x.type, x.user_id ?? x.group_id ?? null]),
      }));
    stagesOf.set(policyId, JSON.stringify(shape));
  }
  const approverRef = (a: ParsedApprover) => (a.type === 'user' ? uid(a.email) : a.type === 'group' ? gid(a.group) : null);
  const desiredApproval = (stages: ParsedStage[]) =>
    JSON.stringify(
      stages.map((s) => ({
        t: s.timeoutDays,
        j: s.requireApproverJustification,
        e: s.escalation ? s.escalation.afterDays : null,
        a: [
          ...s.approvers.map((a) => ['primary', a.type, approverRef(a)]),
          ...s.fallbackApprovers.map((a) => ['fallback', a.type, approverRef(a)]),
          ...(s.escalation?.approvers ?? []).map((a) => ['escalation', a.type, approverRef(a)]),
        ],
      })),
    );

  const policyId = new Map<string, string>(); // `${packageId}\n${name}` → id
  const policyLabel = new Map<string, string>();
  const matchedPolicies = new Set<string>();
  const policyInserts: Record<string, unknown>[] = [];
  const policyUpdates: Record<string, unknown>[] = [];
  const requestorsReplace: string[] = [];
  const requestorInserts: Record<string, unknown>[] = [];
  const stagesReplace: string[] = [];
  const stageInserts: Record<string, unknown>[] = [];
  const stageApproverInserts: Record<string, unknown>[] = [];
  const policyRow = (pol: ParsedPolicy, position: number, ex: PolicyRow | undefined) => {
    const exp = pol.expiration;
    const kind = exp.afterDays !== undefined ? 'afterDays' : exp.afterHours !== undefined ? 'afterHours' : exp.onDate !== undefined ? 'onDate' : 'never';
    return {
      name: pol.name,
      description: pol.description,
      position,
      requestor_scope: pol.requestors.scope,
      accept_requests: pol.acceptRequests,
      require_justification: pol.requireJustification,
      questions: pol.questions,
      requestor_attributes: pol.requestorAttributes,
      expiration_kind: kind,
      expiration_days: exp.afterDays ?? null,
      expiration_hours: exp.afterHours ?? null,
      expiration_date: exp.onDate !== undefined ? when(exp.onDate, ex?.expiration_date) : null,
      allow_custom_period: pol.allowCustomPeriod,
    };
  };
  for (const [ci, c] of file.catalogs.entries()) {
    for (const [pi, p] of c.accessPackages.entries()) {
      const pkgId = packageIds[ci][pi];
      const have = policiesByPackage.get(pkgId) ?? new Map<string, PolicyRow>();
      for (const [k, pol] of p.policies.entries()) {
        const ex = have.get(pol.name);
        const id = ex?.id ?? randomUUID();
        policyId.set(`${pkgId}\n${pol.name}`, id);
        const label = `${p.name} / ${pol.name}`;
        policyLabel.set(id, label);
        const row = policyRow(pol, k, ex);
        const requestors =
          pol.requestors.scope === 'specific'
            ? [...uniq(pol.requestors.users).map((u) => `u:${uid(u)}`), ...uniq(pol.requestors.groups).map((g) => `g:${gid(g)}`)]
            : [];
        const approval = desiredApproval(pol.approval?.stages ?? []);
        const fields: string[] = [];
        if (!ex) {
          policyInserts.push({
            id,
            access_package_id: pkgId,
            ...row,
            questions: JSON.stringify(row.questions),
            requestor_attributes: JSON.stringify(row.requestor_attributes),
            created_at: now,
            updated_at: now,
          });
          plan.create('policy', id, label);
        } else {
          matchedPolicies.add(id);
          if (ex.description !== row.description) fields.push('description');
          if (ex.position !== row.position) fields.push('order');
          if (ex.accept_requests !== row.accept_requests) fields.push('acceptRequests');
          if (ex.require_justification !== row.require_justification) fields.push('requireJustification');
          if (canonical(ex.questions) !== canonical(row.questions)) fields.push('questions');
          if (canonical(ex.requestor_attributes) !== canonical(row.requestor_attributes)) fields.push('requestorAttributes');
          if (
            ex.expiration_kind !== row.expiration_kind ||
            ex.expiration_days !== row.expiration_days ||
            ex.expiration_hours !== row.expiration_hours ||
            !sameTime(ex.expiration_date, row.expiration_date)
          ) {
            fields.push('expiration');
          }
          if (ex.allow_custom_period !== row.allow_custom_period) fields.push('allowCustomPeriod');
          const scopeChanged = ex.requestor_scope !== row.requestor_scope;
          const haveRequestors = (requestorsOf.get(id) ?? []).sort().join(',');
          if (scopeChanged || haveRequestors !== [...requestors].sort().join(',')) fields.push('requestors');
          if (fields.length) {
            policyUpdates.push({ id, ...row, updated_at: now });
            plan.update('policy', id, label, ...fields);
          }
        }
        if (!ex || fields.includes('requestors')) {
          if (ex) requestorsReplace.push(id);
          for (const r of requestors) {
            requestorInserts.push({ policy_id: id, user_id: r.startsWith('u:') ? r.slice(2) : null, group_id: r.startsWith('g:') ? r.slice(2) : null });
          }
        }
        if (!ex || (stagesOf.get(id) ?? '[]') !== approval) {
          if (ex) {
            stagesReplace.push(id);
            plan.update('policy', id, label, 'approval');
          }
          for (const [si, s] of (pol.approval?.stages ?? []).entries()) {
            const stageId = randomUUID();
            stageInserts.push({
              id: stageId,
              policy_id: id,
              position: si + 1,
              timeout_days: s.timeoutDays,
              require_approver_justification: s.requireApproverJustification,
              escalation_after_days: s.escalation ? s.escalation.afterDays : null,
            });
            const add = (role: string, list: ParsedApprover[]) =>
              list.forEach((a, position) =>
                stageApproverInserts.push({
                  id: randomUUID(),
                  stage_id: stageId,
                  role,
                  type: a.type,
                  user_id: a.type === 'user' ? uid(a.email) : null,
                  group_id: a.type === 'group' ? gid(a.group) : null,
                  position,
                }),
              );
            add('primary', s.approvers);
            add('fallback', s.fallbackApprovers);
            add('escalation', s.escalation?.approvers ?? []);
          }
        }
      }
    }
  }
  await insertRows(trx, 'policies', policyInserts);
  await bulkUpdate(
    trx,
    'policies',
    [
      ['name', 'text'],
      ['description', 'text'],
      ['position', 'int'],
      ['requestor_scope', 'text'],
      ['accept_requests', 'boolean'],
      ['require_justification', 'boolean'],
      ['questions', 'jsonb'],
      ['requestor_attributes', 'jsonb'],
      ['expiration_kind', 'text'],
      ['expiration_days', 'int'],
      ['expiration_hours', 'int'],
      ['expiration_date', 'timestamptz'],
      ['allow_custom_period', 'boolean'],
      ['updated_at', 'timestamptz'],
    ],
    policyUpdates,
  );
  await deleteByIds(trx, 'policy_requestors', requestorsReplace, 'policy_id');
  await insertRows(trx, 'policy_requestors', requestorInserts);
  await deleteByIds(trx, 'policy_stages', stagesReplace, 'policy_id');
  await insertRows(trx, 'policy_stages', stageInserts);
  await insertRows(trx, 'policy_stage_approvers', stageApproverInserts);

  // ---- removals of catalog content (before assignments, so refusals are found early) -------------
  // Which packages, policies and resource roles have history that keeps them.
  const missingPackages = existingPackages.filter((p) => !matchedPackages.has(p.id));
  const missingPolicies = existingPolicies.filter((p) => !matchedPolicies.has(p.id) && matchedPackages.has(p.access_package_id));
  const usage = async (column: 'access_package_id' | 'policy_id', ids: string[]) => {
    const counts = new Map<string, { requests: number; assignments: number }>();
    for (const chunk of chunks(ids)) {
      for (const table of ['requests', 'assignments'] as const) {
        const rows = (await trx(table).whereIn(column, chunk).groupBy(column).select(column).count('* as n')) as Record<string, unknown>[];
        for (const r of rows) {
          const key = r[column] as string;
          const entry = counts.get(key) ?? { requests: 0, assignments: 0 };
          entry[table] = Number(r.n);
          counts.set(key, entry);
        }
      }
    }
    return counts;
  };
  const describeUse = (u: { requests: number; assignments: number }) =>
    [u.requests ? plural(u.requests, 'request') : '', u.assignments ? plural(u.assignments, 'assignment') : ''].filter(Boolean).join(' and ');
  const packageUse = await usage('access_package_id', missingPackages.map((p) => p.id));
  for (const p of missingPackages) {
    const use = packageUse.get(p.id);
    if (use) {
      problems.push({
        path: catalogPath(p.catalog_id, 'accessPackages'),
        message: `access package "${p.name}" (${p.id}) is not in the file but has ${describeUse(use)}, so it cannot be removed: keep it in the file (to stop new requests, set "acceptRequests": false on its policies)`,
      });
    }
  }
  const policyUse = await usage('policy_id', missingPolicies.map((p) => p.id));
  for (const p of missingPolicies) {
    const use = policyUse.get(p.id);
    if (use) {
      const pkg = packageById.get(p.access_package_id)!;
      const [ci, pi] = locatePackage(packageIds, p.access_package_id);
      problems.push({
        path: ci >= 0 ? `catalogs[${ci}].accessPackages[${pi}].policies` : catalogPath(pkg.catalog_id, 'accessPackages'),
        message: `policy "${p.name}" of access package "${pkg.name}" is not in the file but has ${describeUse(use)}, so it cannot be removed: keep it in the file (with "acceptRequests": false to stop new requests)`,
      });
    }
  }
  const missingResources = existingResources.filter((r) => !resourceId.has(r.key));
  const missingResourceIds = new Set(missingResources.map((r) => r.id));
  const removedRoleIds = [...rolesToRemove.map((r) => r.id), ...existingRoles.filter((r) => missingResourceIds.has(r.resource_id)).map((r) => r.id)];
  const grantedRoles = new Set<string>();
  for (const chunk of chunks(removedRoleIds)) {
    for (const row of await trx('assignment_grants').whereIn('resource_role_id', chunk).distinct('resource_role_id')) grantedRoles.add(row.resource_role_id as string);
  }
  for (const r of rolesToRemove) {
    if (grantedRoles.has(r.id)) {
      problems.push({ path: r.path, message: `role "${r.name}" of resource ${r.resourceKey} is not in the file but has been granted through assignments, so it cannot be removed: keep it in the file` });
    }
  }
  for (const r of missingResources) {
    const granted = existingRoles.some((role) => role.resource_id === r.id && grantedRoles.has(role.id));
    if (granted) {
      problems.push({
        path: catalogPath(r.catalog_id, 'resources'),
        message: `resource ${r.key} ("${r.name}") is not in the file but its roles have been granted through assignments, so it cannot be removed: keep it in the file`,
      });
    }
  }
  if (problems.length) return { ok: false, problems };

  // ---- assignments ------------------------------------------------------------------------------
  const assignments = (await trx('assignments')
    .where({ directory_id: dirId })
    .where((q) => q.whereIn('state', ['scheduled', 'delivered']).orWhere('origin', 'import'))
    .select('id', 'access_package_id', 'policy_id', 'user_id', 'origin', 'state', 'starts_at', 'ends_at', 'end_reason')) as AssignmentRow[];
  const liveByUserPackage = new Map<string, AssignmentRow>();
  const endedImports = new Map<string, AssignmentRow[]>();
  for (const a of assignments) {
    const key = `${a.user_id}\n${a.access_package_id}`;
    if (a.state === 'scheduled' || a.state === 'delivered') liveByUserPackage.set(key, a);
    else if (a.end_reason !== 'import') {
      if (!endedImports.has(key)) endedImports.set(key, []);
      endedImports.get(key)!.push(a);
    }
  }
  const packageRoleIds = new Map<string, string[]>();
  file.catalogs.forEach((c, ci) =>
    c.accessPackages.forEach((p, pi) => packageRoleIds.set(packageIds[ci][pi], uniq(p.resourceRoles.map((rr) => roleId.get(`${rr.resource}\n${rr.role}`)!)))),
  );
  const packageName = new Map<string, string>();
  file.catalogs.forEach((c, ci) => c.accessPackages.forEach((p, pi) => packageName.set(packageIds[ci][pi], p.name)));
  const matchedAssignments = new Set<string>();
  const assignmentInserts: Record<string, unknown>[] = [];
  const grantInserts: Record<string, unknown>[] = [];
  const toEnd: { id: string; label: string; reason: string }[] = [];
  for (const [i, a] of file.assignments.entries()) {
    const userIdOf = uid(a.user);
    const pkgId = packageByFileId.get(a.accessPackage)!;
    const polId = policyId.get(`${pkgId}\n${a.policy}`)!;
    const key = `${userIdOf}\n${pkgId}`;
    const label = `${a.user} → ${packageName.get(pkgId)}`;
    const live = liveByUserPackage.get(key);
    if (live) {
      matchedAssignments.add(live.id);
      if (live.origin !== 'import') continue; // made in the portal: never touched by an import
      let start = when(a.start, live.starts_at);
      let end = a.end ? when(a.end, live.ends_at) : null;
      if (end && end.getTime() <= start.getTime()) {
        // One date kept from an earlier import, the other edited: both as of now, as validated.
        start = resolveDate(a.start, now);
        end = resolveDate(a.end!, now);
      }
      if (end && end.getTime() <= now.getTime()) {
        toEnd.push({ id: live.id, label, reason: 'its end in the file has passed' });
        continue;
      }
      const fields: string[] = [];
      if (live.policy_id !== polId) fields.push('policy');
      if (!sameTime(live.starts_at, start)) fields.push('start');
      if (!sameTime(live.ends_at, end)) fields.push('end');
      const deliverNow = live.state === 'scheduled' && start.getTime() <= now.getTime();
      if (fields.length) {
        await trx('assignments')
          .where({ id: live.id })
          .update({ policy_id: polId, starts_at: start, ends_at: end, ...(deliverNow ? { state: 'delivered' } : {}), updated_at: now });
        plan.update('assignment', live.id, label, ...fields);
        if (deliverNow) for (const r of packageRoleIds.get(pkgId) ?? []) grantInserts.push({ id: randomUUID(), assignment_id: live.id, resource_role_id: r, granted_at: now });
      }
      continue;
    }
    // Access that ended for another reason (expired, a review, an administrator) is not given back.
    const history = (endedImports.get(key) ?? []).find((h) => sameTime(h.starts_at, when(a.start, h.starts_at)));
    if (history) continue;
    const start = resolveDate(a.start, now);
    const end = a.end ? resolveDate(a.end, now) : null;
    if (end && end.getTime() <= now.getTime()) {
      plan.notes.push(`assignments[${i}] (${label}) ended on ${end.toISOString()}, before this import: not created`);
      continue;
    }
    const id = randomUUID();
    const state = start.getTime() > now.getTime() ? 'scheduled' : 'delivered';
    assignmentInserts.push({
      id,
      directory_id: dirId,
      access_package_id: pkgId,
      policy_id: polId,
      user_id: userIdOf,
      origin: 'import',
      state,
      starts_at: start,
      ends_at: end,
      created_at: now,
      updated_at: now,
    });
    if (state === 'delivered') for (const r of packageRoleIds.get(pkgId) ?? []) grantInserts.push({ id: randomUUID(), assignment_id: id, resource_role_id: r, granted_at: start });
    plan.create('assignment', id, label);
  }
  const existingUserById = new Map(existingUsers.map((u) => [u.id, u]));
  const labelOfAssignment = (a: AssignmentRow) => {
    const email = emailOf.get(a.user_id) ?? existingUserById.get(a.user_id)?.email ?? a.user_id;
    const pkg = packageName.get(a.access_package_id) ?? packageById.get(a.access_package_id)?.name ?? a.access_package_id;
    return `${email} → ${pkg}`;
  };
  for (const a of assignments) {
    if ((a.state === 'scheduled' || a.state === 'delivered') && a.origin === 'import' && !matchedAssignments.has(a.id)) {
      toEnd.push({ id: a.id, label: labelOfAssignment(a), reason: 'not in the file' });
    }
  }
  for (const e of toEnd) plan.remove('assignment', e.id, e.label, 'end', e.reason);
  const endIds = toEnd.map((e) => e.id);
  for (const chunk of chunks(endIds)) {
    await trx('assignments').whereIn('id', chunk).update({ state: 'expired', ended_at: now, end_reason: 'import', updated_at: now });
    await trx('assignment_grants').whereIn('assignment_id', chunk).whereNull('revoked_at').update({ revoked_at: now });
  }
  await insertRows(trx, 'assignments', assignmentInserts);
  await insertRows(trx, 'assignment_grants', grantInserts);

  // ---- access reviews ---------------------------------------------------------------------------
  const existingReviews = (await trx('access_reviews').where({ directory_id: dirId }).select('*')) as {
    id: string;
    name: string;
    description: string;
    scope_type: string;
    scope_access_package_id: string | null;
    scope_group_id: string | null;
    scope_resource_id: string | null;
    reviewer_type: string;
    starts_on: Date;
    duration_days: number;
    recurrence: string;
    if_no_response: string;
    auto_apply: boolean;
    require_justification: boolean;
    show_recommendations: boolean;
  }[];
  const reviewById = new Map(existingReviews.map((r) => [r.id, r]));
  const reviewFileIds = file.accessReviews.flatMap((r) => (r.id ? [r.id] : []));
  for (const chunk of chunks(reviewFileIds)) {
    for (const row of await trx('access_reviews').whereIn('id', chunk).whereNot('directory_id', dirId).select('id')) {
      const i = file.accessReviews.findIndex((r) => r.id === row.id);
      problems.push({ path: `accessReviews[${i}].id`, message: `id ${row.id as string} is already used by an access review of another directory` });
    }
  }
  if (problems.length) return { ok: false, problems };
  const existingReviewers = (await trx('access_review_reviewers as x')
    .join('access_reviews as r', 'r.id', 'x.access_review_id')
    .where('r.directory_id', dirId)
    .select('x.access_review_id', 'x.user_id')) as { access_review_id: string; user_id: string }[];
  const reviewClaimed = new Set(reviewFileIds.filter((id) => reviewById.has(id)));
  const matchedReviews = new Set<string>();
  const reviewInserts: Record<string, unknown>[] = [];
  const reviewIds: string[] = [];
  for (const r of file.accessReviews) {
    let ex = r.id ? reviewById.get(r.id) : undefined;
    if (!r.id) ex = existingReviews.find((x) => x.name === r.name && !reviewClaimed.has(x.id) && !matchedReviews.has(x.id));
    const id = ex?.id ?? r.id ?? randomUUID();
    reviewIds.push(id);
    const scopeType = r.scope.accessPackage !== undefined ? 'accessPackage' : r.scope.group !== undefined ? 'group' : 'resource';
    const row = {
      name: r.name,
      description: r.description,
      scope_type: scopeType,
      scope_access_package_id: r.scope.accessPackage !== undefined ? packageByFileId.get(r.scope.accessPackage)! : null,
      scope_group_id: r.scope.group !== undefined ? gid(r.scope.group) : null,
      scope_resource_id: r.scope.resource !== undefined ? resourceId.get(r.scope.resource)! : null,
      reviewer_type: r.reviewers.type,
      starts_on: when(r.startsOn, ex?.starts_on),
      duration_days: r.durationDays,
      recurrence: r.recurrence,
      if_no_response: r.ifNoResponse,
      auto_apply: r.autoApply,
      require_justification: r.requireJustification,
      show_recommendations: r.showRecommendations,
    };
    if (!ex) {
      reviewInserts.push({ id, directory_id: dirId, ...row, created_at: now, updated_at: now });
      plan.create('accessReview', id, r.name);
      continue;
    }
    matchedReviews.add(id);
    const fields: string[] = [];
    if (ex.name !== row.name) fields.push('name');
    if (ex.description !== row.description) fields.push('description');
    if (
      ex.scope_type !== row.scope_type ||
      ex.scope_access_package_id !== row.scope_access_package_id ||
      ex.scope_group_id !== row.scope_group_id ||
      ex.scope_resource_id !== row.scope_resource_id
    ) {
      fields.push('scope');
    }
    if (ex.reviewer_type !== row.reviewer_type) fields.push('reviewers');
    if (!sameTime(ex.starts_on, row.starts_on)) fields.push('startsOn');
    if (ex.duration_days !== row.duration_days) fields.push('durationDays');
    if (ex.recurrence !== row.recurrence) fields.push('recurrence');
    if (ex.if_no_response !== row.if_no_response) fields.push('ifNoResponse');
    if (ex.auto_apply !== row.auto_apply) fields.push('autoApply');
    if (ex.require_justification !== row.require_justification) fields.push('requireJustification');
    if (ex.show_recommendations !== row.show_recommendations) fields.push('showRecommendations');
    if (fields.length) {
      await trx('access_reviews').where({ id }).update({ ...row, updated_at: now });
      plan.update('accessReview', id, r.name, ...fields);
    }
  }
  await insertRows(trx, 'access_reviews', reviewInserts);
  const reviewName = new Map(reviewIds.map((id, i) => [id, file.accessReviews[i].name]));
  await syncPairs(
    trx,
    'access_review_reviewers',
    ['access_review_id', 'user_id'],
    existingReviewers.map((r) => [r.access_review_id, r.user_id]),
    file.accessReviews.flatMap((r, i) => {
      const users = r.reviewers.type === 'manager' ? r.reviewers.fallback : r.reviewers.type === 'specific' ? r.reviewers.users : [];
      return uniq(users).map((u): [string, string] => [reviewIds[i], uid(u)]);
    }),
    (id) => {
      if (reviewName.has(id)) plan.update('accessReview', id, reviewName.get(id)!, 'reviewers');
    },
  );

  // ---- removals ---------------------------------------------------------------------------------
  const missingReviews = existingReviews.filter((r) => !matchedReviews.has(r.id));
  for (const r of missingReviews) plan.remove('accessReview', r.id, r.name);
  await deleteByIds(trx, 'access_reviews', missingReviews.map((r) => r.id));

  for (const p of missingPolicies) plan.remove('policy', p.id, `${packageById.get(p.access_package_id)!.name} / ${p.name}`);
  await deleteByIds(trx, 'policies', missingPolicies.map((p) => p.id));
  for (const p of missingPackages) {
    plan.remove('accessPackage', p.id, `${p.name} (${p.id})`);
    for (const po of policiesByPackage.get(p.id)?.values() ?? []) plan.remove('policy', po.id, `${p.name} / ${po.name}`);
  }
  await deleteByIds(trx, 'access_packages', missingPackages.map((p) => p.id));

  // Grants follow the package's resource roles: new roles are granted, dropped ones revoked.
  const regrant = [...packageRoleChanged].filter((id) => matchedPackages.has(id));
  for (const chunk of chunks(regrant)) {
    const marks = chunk.map(() => '?').join(', ');
    await trx.raw(
      `insert into assignment_grants (id, assignment_id, resource_role_id, granted_at)
       select gen_random_uuid(), a.id, r.resource_role_id, ?::timestamptz
       from assignments a join access_package_resource_roles r on r.access_package_id = a.access_package_id
       where a.access_package_id in (${marks}) and a.state = 'delivered'
       on conflict (assignment_id, resource_role_id) do update set revoked_at = null, granted_at = excluded.granted_at
       where assignment_grants.revoked_at is not null`,
      [now.toISOString(), ...chunk],
    );
    await trx.raw(
      `update assignment_grants g set revoked_at = ?::timestamptz
       from assignments a
       where g.assignment_id = a.id and a.access_package_id in (${marks}) and a.state = 'delivered' and g.revoked_at is null
         and not exists (select 1 from access_package_resource_roles r where r.access_package_id = a.access_package_id and r.resource_role_id = g.resource_role_id)`,
      [now.toISOString(), ...chunk],
    );
  }

  await deleteByIds(trx, 'resource_roles', rolesToRemove.map((r) => r.id));
  for (const r of missingResources) plan.remove('resource', r.id, r.key);
  await deleteByIds(trx, 'resources', [...missingResourceIds]);
  const missingCatalogs = existingCatalogs.filter((c) => !catalogIndex.has(c.id));
  for (const c of missingCatalogs) plan.remove('catalog', c.id, c.name);
  await deleteByIds(trx, 'catalogs', missingCatalogs.map((c) => c.id));
  const missingGroups = existingGroups.filter((g) => !groupId.has(g.key));
  for (const g of missingGroups) plan.remove('group', g.id, g.key);
  await deleteByIds(trx, 'groups', missingGroups.map((g) => g.id));

  // Users not in the file: deleted, unless they have history (requests, assignments, decisions), then disabled.
  const missingUsers = existingUsers.filter((u) => !fileUserIds.has(u.id));
  const withHistory = new Set<string>();
  for (const chunk of chunks(missingUsers.map((u) => u.id))) {
    const marks = chunk.map(() => '?').join(', ');
    const rows = await trx.raw(
      `select u.id from users u where u.id in (${marks}) and (
         exists (select 1 from requests r where r.target_user_id = u.id)
         or exists (select 1 from requests r where r.requested_by_id = u.id)
         or exists (select 1 from assignments a where a.user_id = u.id)
         or exists (select 1 from request_stages s where s.decided_by_id = u.id)
         or exists (select 1 from access_review_items i where i.subject_user_id = u.id)
         or exists (select 1 from access_review_items i where i.decided_by_id = u.id)
         or exists (select 1 from access_review_decisions d where d.reviewer_id = u.id))`,
      chunk,
    );
    for (const row of rows.rows as { id: string }[]) withHistory.add(row.id);
  }
  const toDisable = missingUsers.filter((u) => withHistory.has(u.id) && !u.disabled_at);
  const toDelete = missingUsers.filter((u) => !withHistory.has(u.id));
  for (const u of toDisable) plan.remove('user', u.id, u.email, 'disable', 'not in the file; kept for its history');
  for (const u of toDelete) plan.remove('user', u.id, u.email);
  for (const chunk of chunks(toDisable.map((u) => u.id))) {
    await trx('users').whereIn('id', chunk).update({ disabled_at: now, updated_at: now });
    await trx('sessions').whereIn('user_id', chunk).del();
  }
  await deleteByIds(trx, 'users', toDelete.map((u) => u.id));

  // ---- the directory itself, and the audit entry ------------------------------------------------
  const result = plan.build(hint, file.directory.name, options.dryRun, newDirectory);
  if (result.changes.length === 0) return { ok: true, plan: result, applied: false };
  if (options.edit) {
    await trx('directories').where({ id: dirId }).update({ name: file.directory.name, sign_in: JSON.stringify(signIn), updated_at: now });
    return { ok: true, plan: result, applied: true };
  }
  await trx('directories').where({ id: dirId }).update({ name: file.directory.name, sign_in: JSON.stringify(signIn), last_imported_at: now, updated_at: now });
  await recordAudit(trx, options.actor, {
    action: 'directory.imported',
    targetType: 'directory',
    targetId: dirId,
    directoryId: dirId,
    at: now,
    details: {
      hint,
      counts: nonZeroCounts(result),
      changes: result.changes.slice(0, 200).map((c) => ({ kind: c.kind, action: c.action, label: c.label, ...(c.fields ? { fields: c.fields } : {}) })),
      moreChanges: Math.max(0, result.changes.length - 200),
    },
  });
  return { ok: true, plan: result, applied: !options.dryRun };
}

function locatePackage(packageIds: string[][], id: string): [number, number] {
  for (let ci = 0; ci < packageIds.length; ci++) {
    const pi = packageIds[ci].indexOf(id);
    if (pi >= 0) return [ci, pi];
  }
  return [-1, -1];
}
