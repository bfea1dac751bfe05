import type { GenerateResult } from './generate.ts';
import type { Row, Sink, TableName } from './tables.ts';

type R = Record<string, unknown>;

/** Moments come from the generator as epoch milliseconds. */
const iso = (ms: unknown) => new Date(ms as number).toISOString();

/**
 * A Sink that keeps what the directory file format can say (src/directory/FORMAT.md) and writes it
 * as a file: users, groups, catalogs with resources, packages and policies, live assignments and
 * access review definitions. The format has no requests, approval history, review instances or
 * disabled users, so those rows are dropped (the database loader keeps them).
 */
export class DirectoryFileSink implements Sink {
  private readonly tables = new Map<TableName, R[]>();
  private static readonly KEPT = new Set<TableName>([
    'directories', 'users', 'user_sponsors', 'groups', 'group_members', 'catalogs', 'catalog_owners', 'resources', 'resource_roles', 'access_packages',
    'access_package_resource_roles', 'access_package_incompatibles', 'policies', 'policy_requestors', 'policy_stages', 'policy_stage_approvers',
    'assignments', 'access_reviews', 'access_review_reviewers',
  ]);

  add<T extends TableName>(table: T, row: Row<T>): void {
    if (!DirectoryFileSink.KEPT.has(table)) return;
    if (table === 'assignments' && (row as R).state === 'expired') return;
    let list = this.tables.get(table);
    if (!list) this.tables.set(table, (list = []));
    list.push(row as R);
  }

  async drain(): Promise<void> {}
  async flush(): Promise<void> {}

  private rows(table: TableName): R[] {
    return this.tables.get(table) ?? [];
  }

  summary(): string {
    const n = (t: TableName) => this.rows(t).length.toLocaleString('en-GB');
    return `${n('users')} users, ${n('groups')} groups, ${n('catalogs')} catalogs, ${n('access_packages')} access packages, ${n('policies')} policies, ${n('assignments')} live assignments, ${n('access_reviews')} access reviews`;
  }

  /** The directory file as an object (src/directory/format.ts). */
  toDirectoryFile(result: GenerateResult): Record<string, unknown> {
    const group = <T>(rows: R[], key: string, value: (r: R) => T) => {
      const map = new Map<unknown, T[]>();
      for (const r of rows) {
        const list = map.get(r[key]);
        if (list) list.push(value(r));
        else map.set(r[key], [value(r)]);
      }
      return map;
    };
    const active = this.rows('users').filter((u) => u.disabled_at === null);
    const emailOf = new Map(active.map((u) => [u.id, u.email as string]));
    const groupKey = new Map(this.rows('groups').map((g) => [g.id, g.key as string]));
    const sponsors = group(this.rows('user_sponsors'), 'user_id', (r) => emailOf.get(r.sponsor_id));
    const members = group(this.rows('group_members').filter((m) => emailOf.has(m.user_id)), 'group_id', (r) => emailOf.get(r.user_id)!);
    const owners = group(this.rows('catalog_owners'), 'catalog_id', (r) => emailOf.get(r.user_id)!);
    const resources = this.rows('resources');
    const resourceKey = new Map(resources.map((r) => [r.id, r.key as string]));
    const roles = group(this.rows('resource_roles'), 'resource_id', (r) => r);
    const role = new Map(this.rows('resource_roles').map((r) => [r.id, { resource: resourceKey.get(r.resource_id)!, role: r.name as string }]));
    const packageRoles = group(this.rows('access_package_resource_roles'), 'access_package_id', (r) => role.get(r.resource_role_id)!);
    const incompatible = group(this.rows('access_package_incompatibles'), 'access_package_id', (r) => r.incompatible_id as string);
    const requestorGroups = group(this.rows('policy_requestors'), 'policy_id', (r) => groupKey.get(r.group_id)!);
    const stages = group(this.rows('policy_stages'), 'policy_id', (r) => r);
    const stageApprovers = group(this.rows('policy_stage_approvers'), 'stage_id', (r) => r);
    const policies = group(this.rows('policies'), 'access_package_id', (r) => r);
    const policyName = new Map(this.rows('policies').map((p) => [p.id, p.name as string]));
    const packagesByCatalog = group(this.rows('access_packages'), 'catalog_id', (r) => r);
    const resourcesByCatalog = group(resources, 'catalog_id', (r) => r);

    const approver = (a: R) =>
      a.type === 'manager' ? { type: 'manager' } : a.type === 'user' ? { type: 'user', email: emailOf.get(a.user_id) } : { type: 'group', group: groupKey.get(a.group_id) };
    const policy = (p: R) => {
      const days = p.expiration_days as number | null;
      const hours = p.expiration_hours as number | null;
      const policyStages = (stages.get(p.id) ?? []).sort((a, b) => (a.position as number) - (b.position as number));
      return {
        name: p.name,
        description: p.description,
        requestors: p.requestor_scope === 'specific' ? { scope: 'specific', groups: requestorGroups.get(p.id) ?? [] } : { scope: p.requestor_scope },
        requireJustification: p.require_justification,
        approval: policyStages.length
          ? {
              stages: policyStages.map((s) => {
                const list = stageApprovers.get(s.id) ?? [];
                const escalation = list.filter((a) => a.role === 'escalation').map(approver);
                return {
                  approvers: list.filter((a) => a.role === 'primary').map(approver),
                  fallbackApprovers: list.filter((a) => a.role === 'fallback').map(approver),
                  timeoutDays: s.timeout_days,
                  requireApproverJustification: s.require_approver_justification,
                  ...(s.escalation_after_days ? { escalation: { afterDays: s.escalation_after_days, approvers: escalation } } : {}),
                };
              }),
            }
          : null,
        questions: p.questions,
        requestorAttributes: p.requestor_attributes,
        expiration: days !== null ? { afterDays: days } : hours !== null ? { afterHours: hours } : { never: true },
        allowCustomPeriod: p.allow_custom_period,
      };
    };

    // One live assignment per person and package, never two incompatible packages for one person.
    const held = new Map<unknown, Set<string>>();
    const assignments = [];
    for (const a of this.rows('assignments')) {
      const email = emailOf.get(a.user_id);
      if (!email) continue;
      const mine = held.get(a.user_id) ?? new Set<string>();
      const pkg = a.access_package_id as string;
      if (mine.has(pkg) || (incompatible.get(pkg) ?? []).some((other) => mine.has(other))) continue;
      mine.add(pkg);
      held.set(a.user_id, mine);
      assignments.push({ user: email, accessPackage: pkg, policy: policyName.get(a.policy_id), start: iso(a.starts_at), ...(a.ends_at ? { end: iso(a.ends_at) } : {}) });
    }

    const reviewers = group(this.rows('access_review_reviewers'), 'access_review_id', (r) => emailOf.get(r.user_id)!);
    const directory = this.rows('directories')[0];
    return {
      directory: { hint: result.hint, name: directory.name, signIn: { password: true } },
      users: active.map((u) => {
        const manager = u.manager_id ? emailOf.get(u.manager_id) : undefined;
        return {
          email: u.email,
          displayName: u.display_name,
          passwordHash: u.password_hash,
          type: u.type,
          ...(manager ? { manager } : {}),
          ...(sponsors.has(u.id) ? { sponsors: sponsors.get(u.id) } : {}),
          attributes: u.attributes,
          ...(u.is_admin ? { roles: ['admin'] } : {}),
          ...(u.last_sign_in_at ? { lastSignIn: iso(u.last_sign_in_at) } : {}),
        };
      }),
      groups: this.rows('groups').map((g) => ({ key: g.key, name: g.name, members: members.get(g.id) ?? [] })),
      catalogs: this.rows('catalogs').map((c) => ({
        name: c.name,
        description: c.description,
        enabled: c.enabled,
        owners: owners.get(c.id) ?? [],
        resources: (resourcesByCatalog.get(c.id) ?? []).map((r) => ({
          key: r.key,
          type: r.type,
          name: r.name,
          description: r.description,
          ...(r.url ? { url: r.url } : {}),
          roles: (roles.get(r.id) ?? []).sort((a, b) => (a.position as number) - (b.position as number)).map((x) => x.name),
        })),
        accessPackages: (packagesByCatalog.get(c.id) ?? []).map((p) => ({
          id: p.id,
          name: p.name,
          description: p.description,
          hidden: p.hidden,
          resourceRoles: packageRoles.get(p.id) ?? [],
          incompatibleWith: incompatible.get(p.id) ?? [],
          policies: (policies.get(p.id) ?? []).sort((a, b) => (a.position as number) - (b.position as number)).map(policy),
        })),
      })),
      assignments,
      accessReviews: this.rows('access_reviews').map((r) => ({
        id: r.id,
        name: r.name,
        description: r.description,
        scope: r.scope_type === 'accessPackage' ? { accessPackage: r.scope_access_package_id } : r.scope_type === 'group' ? { group: groupKey.get(r.scope_group_id) } : { resource: resourceKey.get(r.scope_resource_id) },
        reviewers:
          r.reviewer_type === 'self' ? { type: 'self' } : r.reviewer_type === 'manager' ? { type: 'manager', fallback: reviewers.get(r.id) ?? [] } : { type: 'specific', users: reviewers.get(r.id) ?? [] },
        startsOn: iso(r.starts_on),
        durationDays: r.duration_days,
        recurrence: r.recurrence,
        ifNoResponse: r.if_no_response,
        autoApply: r.auto_apply,
        requireJustification: r.require_justification,
        showRecommendations: r.show_recommendations,
      })),
    };
  }

  /** The file as JSON text in chunks (one per top-level list entry), so large files stream out. */
  *toJsonChunks(result: GenerateResult): Generator<string> {
    const file = this.toDirectoryFile(result);
    yield `{\n  "directory": ${JSON.stringify(file.directory)}`;
    for (const key of ['users', 'groups', 'catalogs', 'assignments', 'accessReviews']) {
      const list = file[key] as unknown[];
      yield `,\n  "${key}": [`;
      for (let i = 0; i < list.length; i++) yield `${i ? ',' : ''}\n    ${JSON.stringify(list[i])}`;
      yield list.length ? '\n  ]' : ']';
    }
    yield '\n}\n';
  }
}
