import type { Knex } from 'knex';
import type { DirectoryFile, SignIn } from './format.ts';
import { groupBy } from '../shared/collections.ts';

/**
 * Writes a directory out in the import format, so that export → import → export gives the same
 * file. Passwords come out as `passwordHash`, dates as full ISO 8601 in UTC, assignments only
 * while live (scheduled or delivered). Disabled users (removed from an earlier file but kept for
 * their history) are left out, with their assignments: the format has no way to say "disabled".
 * Ordering is stable: users by email, groups and resources by key, catalogs by name, packages by
 * name then id, policies, stages, approvers and roles in their stored order.
 */
export async function exportDirectory(db: Knex, hint: string): Promise<DirectoryFile | null> {
  return db.transaction(async (trx) => {
    // One snapshot for all the reads below, on PostgreSQL; PGlite has a single connection anyway.
    await trx.raw('set transaction isolation level repeatable read');
    return build(trx, hint);
  });
}

/** The same export inside a transaction the caller holds (Administration edits: export, change, import). */
export async function exportDirectoryWith(trx: Knex.Transaction, hint: string): Promise<DirectoryFile | null> {
  return build(trx, hint);
}

type Row = Record<string, unknown>;
type FileUser = NonNullable<DirectoryFile['users']>[number];
type FileCatalog = NonNullable<DirectoryFile['catalogs']>[number];
type FilePackage = NonNullable<FileCatalog['accessPackages']>[number];
type FilePolicy = NonNullable<FilePackage['policies']>[number];
type FileApprover = { type: 'manager' } | { type: 'sponsor' } | { type: 'user'; email: string } | { type: 'group'; group: string };
type FileReview = NonNullable<DirectoryFile['accessReviews']>[number];

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const iso = (d: unknown) => new Date(d as string | Date).toISOString();
const sortedKeys = (o: Record<string, string>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => byText(a, b)));

function signInOf(stored: unknown): SignIn {
  const oidc = (stored as { oidc?: Record<string, string> } | null)?.oidc;
  return oidc ? { oidc: { issuer: oidc.issuer, clientId: oidc.clientId, clientSecretEnv: oidc.clientSecretEnv } } : { password: true };
}

async function build(trx: Knex.Transaction, hint: string): Promise<DirectoryFile | null> {
  const dir = (await trx('directories').where({ hint: hint.trim().toLowerCase() }).first('id', 'hint', 'name', 'sign_in')) as Row | undefined;
  if (!dir) return null;
  const dirId = dir.id as string;

  // ---- users
  const users = (await trx('users')
    .where({ directory_id: dirId })
    .whereNull('disabled_at')
    .orderBy('email')
    .select('id', 'email', 'display_name', 'password_hash', 'type', 'manager_id', 'attributes', 'is_admin', 'last_sign_in_at')) as Row[];
  users.sort((a, b) => byText(a.email as string, b.email as string));
  const email = new Map(users.map((u) => [u.id as string, u.email as string]));
  const sponsors = groupBy(
    (await trx('user_sponsors as s').join('users as u', 'u.id', 's.user_id').where('u.directory_id', dirId).select('s.user_id', 's.sponsor_id')) as Row[],
    (r) => r.user_id as string,
  );
  const emailsOf = (ids: unknown[]) => ids.flatMap((id) => (email.has(id as string) ? [email.get(id as string)!] : [])).sort(byText);
  const fileUsers: FileUser[] = users.map((u) => {
    const out: FileUser = { email: u.email as string, displayName: u.display_name as string };
    if (u.password_hash) out.passwordHash = u.password_hash as string;
    out.type = u.type as 'member' | 'guest';
    if (u.manager_id && email.has(u.manager_id as string)) out.manager = email.get(u.manager_id as string)!;
    const s = emailsOf((sponsors.get(u.id as string) ?? []).map((r) => r.sponsor_id));
    if (s.length) out.sponsors = s;
    const attributes = (u.attributes ?? {}) as Record<string, string>;
    if (Object.keys(attributes).length) out.attributes = sortedKeys(attributes);
    if (u.is_admin) out.roles = ['admin'];
    if (u.last_sign_in_at) out.lastSignIn = iso(u.last_sign_in_at);
    return out;
  });

  // ---- groups
  const groups = (await trx('groups').where({ directory_id: dirId }).select('id', 'key', 'name')) as Row[];
  groups.sort((a, b) => byText(a.key as string, b.key as string));
  const groupKey = new Map(groups.map((g) => [g.id as string, g.key as string]));
  const members = groupBy(
    (await trx('group_members as m').join('groups as g', 'g.id', 'm.group_id').where('g.directory_id', dirId).select('m.group_id', 'm.user_id')) as Row[],
    (r) => r.group_id as string,
  );

  // ---- catalogs, resources, packages
  const catalogs = (await trx('catalogs').where({ directory_id: dirId }).select('id', 'name', 'description', 'enabled')) as Row[];
  catalogs.sort((a, b) => byText(a.name as string, b.name as string));
  const owners = groupBy(
    (await trx('catalog_owners as o').join('catalogs as c', 'c.id', 'o.catalog_id').where('c.directory_id', dirId).select('o.catalog_id', 'o.user_id')) as Row[],
    (r) => r.catalog_id as string,
  );
  const resources = (await trx('resources').where({ directory_id: dirId }).select('id', 'catalog_id', 'key', 'type', 'name', 'description', 'url')) as Row[];
  resources.sort((a, b) => byText(a.key as string, b.key as string));
  const resourceKey = new Map(resources.map((r) => [r.id as string, r.key as string]));
  const roles = (await trx('resource_roles as rr')
    .join('resources as r', 'r.id', 'rr.resource_id')
    .where('r.directory_id', dirId)
    .orderBy([{ column: 'rr.resource_id' }, { column: 'rr.position' }, { column: 'rr.name' }])
    .select('rr.id', 'rr.resource_id', 'rr.name', 'rr.position')) as Row[];
  const rolesOf = groupBy(roles, (r) => r.resource_id as string);
  const roleById = new Map(roles.map((r) => [r.id as string, r]));
  const packages = (await trx('access_packages').where({ directory_id: dirId }).select('id', 'catalog_id', 'name', 'description', 'hidden')) as Row[];
  packages.sort((a, b) => byText(a.name as string, b.name as string) || byText(a.id as string, b.id as string));
  const packageRoles = groupBy(
    (await trx('access_package_resource_roles as x').join('access_packages as p', 'p.id', 'x.access_package_id').where('p.directory_id', dirId).select('x.access_package_id', 'x.resource_role_id')) as Row[],
    (r) => r.access_package_id as string,
  );
  const incompatibles = groupBy(
    (await trx('access_package_incompatibles as x').join('access_packages as p', 'p.id', 'x.access_package_id').where('p.directory_id', dirId).select('x.access_package_id', 'x.incompatible_id')) as Row[],
    (r) => r.access_package_id as string,
  );

  // ---- policies
  const policies = (await trx('policies as po')
    .join('access_packages as p', 'p.id', 'po.access_package_id')
    .where('p.directory_id', dirId)
    .orderBy([{ column: 'po.access_package_id' }, { column: 'po.position' }, { column: 'po.name' }])
    .select('po.*')) as Row[];
  const policyIds = policies.map((p) => p.id as string);
  const requestorRows: Row[] = [];
  const stageRows: Row[] = [];
  for (let i = 0; i < policyIds.length; i += 500) {
    const chunk = policyIds.slice(i, i + 500);
    requestorRows.push(...((await trx('policy_requestors').whereIn('policy_id', chunk).select('policy_id', 'user_id', 'group_id')) as Row[]));
    stageRows.push(...((await trx('policy_stages').whereIn('policy_id', chunk).orderBy('position').select('*')) as Row[]));
  }
  const approverRows: Row[] = [];
  const stageIds = stageRows.map((s) => s.id as string);
  for (let i = 0; i < stageIds.length; i += 500) {
    approverRows.push(...((await trx('policy_stage_approvers').whereIn('stage_id', stageIds.slice(i, i + 500)).orderBy('position').select('*')) as Row[]));
  }
  const requestorsOf = groupBy(requestorRows, (r) => r.policy_id as string);
  const stagesOf = groupBy(stageRows, (r) => r.policy_id as string);
  const approversOf = groupBy(approverRows, (r) => r.stage_id as string);
  const policiesOf = groupBy(policies, (r) => r.access_package_id as string);
  const packageName = new Map(packages.map((p) => [p.id as string, p.name as string]));
  const policyName = new Map(policies.map((p) => [p.id as string, p.name as string]));

  const approver = (a: Row): FileApprover => {
    switch (a.type) {
      case 'user':
        return { type: 'user', email: email.get(a.user_id as string) ?? (a.user_id as string) };
      case 'group':
        return { type: 'group', group: groupKey.get(a.group_id as string) ?? (a.group_id as string) };
      case 'sponsor':
        return { type: 'sponsor' };
      default:
        return { type: 'manager' };
    }
  };
  const filePolicy = (po: Row): FilePolicy => {
    const reqs = requestorsOf.get(po.id as string) ?? [];
    const scope = po.requestor_scope as 'specific' | 'allMembers' | 'allUsers' | 'none';
    const requestors: FilePolicy['requestors'] =
      scope === 'specific'
        ? {
            scope,
            users: emailsOf(reqs.filter((r) => r.user_id).map((r) => r.user_id)),
            groups: reqs.flatMap((r) => (r.group_id ? [groupKey.get(r.group_id as string)!] : [])).sort(byText),
          }
        : { scope };
    const stages = (stagesOf.get(po.id as string) ?? []).sort((a, b) => (a.position as number) - (b.position as number));
    const approval = stages.length
      ? {
          stages: stages.map((s) => {
            const list = approversOf.get(s.id as string) ?? [];
            const of = (role: string) => list.filter((a) => a.role === role).sort((a, b) => (a.position as number) - (b.position as number)).map(approver);
            return {
              approvers: of('primary'),
              fallbackApprovers: of('fallback'),
              timeoutDays: s.timeout_days as number,
              requireApproverJustification: s.require_approver_justification as boolean,
              ...(s.escalation_after_days !== null ? { escalation: { afterDays: s.escalation_after_days as number, approvers: of('escalation') } } : {}),
            };
          }),
        }
      : null;
    const expiration: FilePolicy['expiration'] =
      po.expiration_kind === 'afterDays'
        ? { afterDays: po.expiration_days as number }
        : po.expiration_kind === 'afterHours'
          ? { afterHours: po.expiration_hours as number }
          : po.expiration_kind === 'onDate'
            ? { onDate: iso(po.expiration_date) }
            : { never: true };
    return {
      name: po.name as string,
      description: po.description as string,
      requestors,
      acceptRequests: po.accept_requests as boolean,
      requireJustification: po.require_justification as boolean,
      approval,
      questions: ((po.questions ?? []) as Row[]).map((q) => ({
        key: q.key as string,
        text: q.text as string,
        type: q.type as 'shortText' | 'longText' | 'multipleChoice',
        ...(q.choices !== undefined ? { choices: q.choices as string[] } : {}),
        required: Boolean(q.required),
        ...(q.pattern !== undefined ? { pattern: q.pattern as string } : {}),
        ...(q.patternHint !== undefined ? { patternHint: q.patternHint as string } : {}),
      })),
      requestorAttributes: ((po.requestor_attributes ?? []) as Row[]).map((a) => ({
        attribute: a.attribute as string,
        label: a.label as string,
        type: a.type as 'shortText' | 'longText' | 'multipleChoice',
        ...(a.choices !== undefined ? { choices: a.choices as string[] } : {}),
        required: Boolean(a.required),
        editable: a.editable !== false,
      })),
      expiration,
      allowCustomPeriod: po.allow_custom_period as boolean,
    };
  };

  const filePackage = (p: Row): FilePackage => ({
    id: p.id as string,
    name: p.name as string,
    description: p.description as string,
    hidden: p.hidden as boolean,
    resourceRoles: (packageRoles.get(p.id as string) ?? [])
      .map((x) => roleById.get(x.resource_role_id as string)!)
      .sort((a, b) => byText(resourceKey.get(a.resource_id as string)!, resourceKey.get(b.resource_id as string)!) || (a.position as number) - (b.position as number))
      .map((r) => ({ resource: resourceKey.get(r.resource_id as string)!, role: r.name as string })),
    incompatibleWith: (incompatibles.get(p.id as string) ?? []).map((x) => x.incompatible_id as string).sort(byText),
    policies: (policiesOf.get(p.id as string) ?? []).sort((a, b) => (a.position as number) - (b.position as number)).map(filePolicy),
  });

  const fileCatalogs: FileCatalog[] = catalogs.map((c) => ({
    name: c.name as string,
    description: c.description as string,
    enabled: c.enabled as boolean,
    owners: emailsOf((owners.get(c.id as string) ?? []).map((o) => o.user_id)),
    resources: resources
      .filter((r) => r.catalog_id === c.id)
      .map((r) => ({
        key: r.key as string,
        type: r.type as 'group' | 'application' | 'site',
        name: r.name as string,
        description: r.description as string,
        ...(r.url ? { url: r.url as string } : {}),
        roles: (rolesOf.get(r.id as string) ?? []).map((x) => x.name as string),
      })),
    accessPackages: packages.filter((p) => p.catalog_id === c.id).map(filePackage),
  }));

  // ---- assignments: live ones of exported users
  const assignments = (await trx('assignments')
    .where({ directory_id: dirId })
    .whereIn('state', ['scheduled', 'delivered'])
    .select('user_id', 'access_package_id', 'policy_id', 'starts_at', 'ends_at')) as Row[];
  const fileAssignments = assignments
    .filter((a) => email.has(a.user_id as string))
    .map((a) => ({
      user: email.get(a.user_id as string)!,
      accessPackage: a.access_package_id as string,
      policy: policyName.get(a.policy_id as string)!,
      start: iso(a.starts_at),
      ...(a.ends_at ? { end: iso(a.ends_at) } : {}),
    }))
    .sort((a, b) => byText(a.user, b.user) || byText(packageName.get(a.accessPackage) ?? '', packageName.get(b.accessPackage) ?? '') || byText(a.accessPackage, b.accessPackage));

  // ---- access reviews
  const reviews = (await trx('access_reviews').where({ directory_id: dirId }).select('*')) as Row[];
  reviews.sort((a, b) => byText(a.name as string, b.name as string) || byText(a.id as string, b.id as string));
  const reviewers = groupBy(
    (await trx('access_review_reviewers as x').join('access_reviews as r', 'r.id', 'x.access_review_id').where('r.directory_id', dirId).select('x.access_review_id', 'x.user_id')) as Row[],
    (r) => r.access_review_id as string,
  );
  const fileReviews: FileReview[] = reviews.map((r) => {
    const users = emailsOf((reviewers.get(r.id as string) ?? []).map((x) => x.user_id));
    const scope: FileReview['scope'] =
      r.scope_type === 'accessPackage'
        ? { accessPackage: r.scope_access_package_id as string }
        : r.scope_type === 'group'
          ? { group: groupKey.get(r.scope_group_id as string)! }
          : { resource: resourceKey.get(r.scope_resource_id as string)! };
    const reviewerSpec: FileReview['reviewers'] =
      r.reviewer_type === 'self' ? { type: 'self' } : r.reviewer_type === 'manager' ? { type: 'manager', fallback: users } : { type: 'specific', users };
    return {
      id: r.id as string,
      name: r.name as string,
      ...(r.description ? { description: r.description as string } : {}),
      scope,
      reviewers: reviewerSpec,
      startsOn: iso(r.starts_on),
      durationDays: r.duration_days as number,
      recurrence: r.recurrence as FileReview['recurrence'],
      ifNoResponse: r.if_no_response as FileReview['ifNoResponse'],
      autoApply: r.auto_apply as boolean,
      requireJustification: r.require_justification as boolean,
      showRecommendations: r.show_recommendations as boolean,
    };
  });

  return {
    directory: { hint: dir.hint as string, name: dir.name as string, signIn: signInOf(dir.sign_in) },
    users: fileUsers,
    groups: groups.map((g) => ({ key: g.key as string, name: g.name as string, members: emailsOf((members.get(g.id as string) ?? []).map((m) => m.user_id)) })),
    catalogs: fileCatalogs,
    assignments: fileAssignments,
    accessReviews: fileReviews,
  };
}
