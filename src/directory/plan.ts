/** What an import would do (dry run) or did, per object kind; rendered as text for the command line. */

export const OBJECT_KINDS = ['directory', 'user', 'group', 'catalog', 'resource', 'accessPackage', 'policy', 'assignment', 'accessReview'] as const;
export type ObjectKind = (typeof OBJECT_KINDS)[number];

/** create/update/remove; `disable` is a user kept for its history; `end` is an imported assignment that ends. */
export type PlanAction = 'create' | 'update' | 'remove' | 'disable' | 'end';
const ACTIONS: readonly PlanAction[] = ['create', 'update', 'remove', 'disable', 'end'];

export interface PlanChange {
  kind: ObjectKind;
  action: PlanAction;
  /** Human-readable name: an email, a key, `Package / Policy`, `user → Package`. */
  label: string;
  /** For updates: the names of the changed fields, as in the file (`displayName`, `members`, `approval`). */
  fields?: string[];
  /** Why, for disable and end. */
  reason?: string;
}

export interface ImportPlan {
  hint: string;
  name: string;
  dryRun: boolean;
  newDirectory: boolean;
  changes: PlanChange[];
  counts: Record<ObjectKind, Record<PlanAction, number>>;
  /** Things worth knowing that are not changes (an assignment in the file that already ended, not created). */
  notes: string[];
}

const KIND_NAMES: Record<ObjectKind, [string, string]> = {
  directory: ['directory', 'directories'],
  user: ['user', 'users'],
  group: ['group', 'groups'],
  catalog: ['catalog', 'catalogs'],
  resource: ['resource', 'resources'],
  accessPackage: ['access package', 'access packages'],
  policy: ['policy', 'policies'],
  assignment: ['assignment', 'assignments'],
  accessReview: ['access review', 'access reviews'],
};

const PAST: Record<PlanAction, string> = { create: 'created', update: 'updated', remove: 'removed', disable: 'disabled', end: 'ended' };

/** Collects changes; several field changes of one object merge into one update entry. */
export class PlanBuilder {
  private readonly byObject = new Map<string, PlanChange>();
  private readonly list: PlanChange[] = [];
  readonly notes: string[] = [];

  create(kind: ObjectKind, id: string, label: string): void {
    const change: PlanChange = { kind, action: 'create', label };
    this.byObject.set(`${kind}:${id}`, change);
    this.list.push(change);
  }

  /** Marks fields of an object as changed; ignored for an object this import creates or removes. */
  update(kind: ObjectKind, id: string, label: string, ...fields: string[]): void {
    if (fields.length === 0) return;
    const key = `${kind}:${id}`;
    let change = this.byObject.get(key);
    if (!change) {
      change = { kind, action: 'update', label, fields: [] };
      this.byObject.set(key, change);
      this.list.push(change);
    }
    if (change.action !== 'update') return;
    for (const f of fields) if (!change.fields!.includes(f)) change.fields!.push(f);
  }

  remove(kind: ObjectKind, id: string, label: string, action: 'remove' | 'disable' | 'end' = 'remove', reason?: string): void {
    const change: PlanChange = { kind, action, label, ...(reason ? { reason } : {}) };
    this.byObject.set(`${kind}:${id}`, change);
    this.list.push(change);
  }

  build(hint: string, name: string, dryRun: boolean, newDirectory: boolean): ImportPlan {
    const order = (c: PlanChange) => OBJECT_KINDS.indexOf(c.kind) * 10 + ACTIONS.indexOf(c.action);
    const changes = this.list.map((c, i) => ({ c, i })).sort((a, b) => order(a.c) - order(b.c) || a.i - b.i).map((x) => x.c);
    const counts = Object.fromEntries(
      OBJECT_KINDS.map((k) => [k, Object.fromEntries(ACTIONS.map((a) => [a, 0]))]),
    ) as Record<ObjectKind, Record<PlanAction, number>>;
    for (const c of changes) counts[c.kind][c.action] += 1;
    return { hint, name, dryRun, newDirectory, changes, counts, notes: [...this.notes] };
  }
}

/** The counts that are not zero, e.g. `{ user: { create: 7 } }`, for the audit log and summaries. */
export function nonZeroCounts(plan: ImportPlan): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const kind of OBJECT_KINDS) {
    for (const action of ACTIONS) {
      const n = plan.counts[kind][action];
      if (n) (out[kind] ??= {})[action] = n;
    }
  }
  return out;
}

/** The plan as text: a header, each change on its own line (at most `limit` per kind and action), a summary. */
export function renderPlan(plan: ImportPlan, options: { limit?: number } = {}): string {
  const limit = options.limit ?? 200;
  const lines: string[] = [];
  const title = `${plan.hint} (${plan.name})`;
  if (plan.dryRun) lines.push(`Dry run for directory ${title}: nothing was changed.`);
  else lines.push(`Directory ${title}`);
  if (plan.changes.length === 0) {
    lines.push('No changes: the directory already matches the file.');
  } else {
    lines.push(plan.dryRun ? 'The import would make these changes:' : 'Changes:');
    const shown = new Map<string, number>();
    for (const c of plan.changes) {
      const key = `${c.kind}:${c.action}`;
      const n = (shown.get(key) ?? 0) + 1;
      shown.set(key, n);
      if (n > limit) continue;
      let line = `  ${c.action} ${KIND_NAMES[c.kind][0]} ${c.label}`;
      if (c.fields?.length) line += `: ${c.fields.join(', ')}`;
      if (c.reason) line += ` (${c.reason})`;
      lines.push(line);
    }
    for (const [key, n] of shown) {
      if (n > limit) {
        const [kind, action] = key.split(':') as [ObjectKind, PlanAction];
        lines.push(`  ... and ${n - limit} more: ${action} ${KIND_NAMES[kind][1]}`);
      }
    }
  }
  for (const note of plan.notes) lines.push(`Note: ${note}`);
  const parts: string[] = [];
  for (const kind of OBJECT_KINDS) {
    const counts = plan.counts[kind];
    const done = ACTIONS.filter((a) => counts[a] > 0).map((a) => `${counts[a]} ${PAST[a]}`);
    if (done.length) parts.push(`${KIND_NAMES[kind][1]}: ${done.join(', ')}`);
  }
  if (parts.length) lines.push(`Summary${plan.dryRun ? ' (not applied)' : ''}: ${parts.join('; ')}`);
  return lines.join('\n') + '\n';
}
