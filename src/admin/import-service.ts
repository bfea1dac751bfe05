import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { recordAudit, type Actor } from '../audit/audit.ts';
import type { Clock } from '../clock.ts';
import { exportDirectory } from '../directory/export.ts';
import { normalizeSignIn } from '../directory/format.ts';
import { importDirectory, importDirectoryWith, type ImportPlan, type Problem } from '../directory/import.ts';
import { parseDirectoryFile } from '../directory/validate.ts';
import { requireAdministrator, type AdminScope } from './scope.ts';

/** The largest directory file the web import takes (the command line has no limit). */
export const MAX_IMPORT_BYTES = 20 * 1024 * 1024;

export type PlanOutcome = { ok: true; plan: ImportPlan; fingerprint: string } | { ok: false; problems: Problem[] };
export type ApplyOutcome =
  | { ok: true; plan: ImportPlan; applied: boolean }
  | { ok: false; problems: Problem[] }
  /** The directory changed after the plan was shown: this is what the import would do now (nothing was written). */
  | { ok: 'changed'; plan: ImportPlan; fingerprint: string };

class Rollback extends Error {
  readonly outcome: ApplyOutcome;
  constructor(outcome: ApplyOutcome) {
    super('rollback');
    this.outcome = outcome;
  }
}

/** What a plan would change, as a short hash: applying checks that it still is the plan that was shown. */
export function planFingerprint(plan: ImportPlan): string {
  const changes = plan.changes.map((c) => [c.kind, c.action, c.label, c.fields ?? [], c.reason ?? '']);
  return createHash('sha256').update(JSON.stringify([plan.hint, changes])).digest('base64url');
}

/** JSON with object keys sorted, to compare stored jsonb with a file's value. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as object).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** The text of a directory file as JSON, or the problem that stops it, as the command line reports it. */
export function parseFileText(text: string): { ok: true; input: unknown } | { ok: false; problems: Problem[] } {
  try {
    return { ok: true, input: JSON.parse(text.replace(/^\uFEFF/, '')) };
  } catch (err) {
    return { ok: false, problems: [{ path: '(file)', message: `not valid JSON: ${(err as Error).message}` }] };
  }
}

/**
 * Import and export of the administrator's own directory through the web. The file goes through
 * exactly the import the command line runs; on top of it, the web refuses a file for another
 * directory and a change of sign-in settings (an OpenID Connect client secret is read from an
 * environment variable of the server, which only whoever runs Portico may choose).
 */
export function createDirectoryFileAdmin(deps: { db: Knex; clock: Clock }) {
  const { db, clock } = deps;

  async function check(scope: AdminScope, text: string): Promise<{ ok: true; input: unknown } | { ok: false; problems: Problem[] }> {
    const parsed = parseFileText(text);
    if (!parsed.ok) return parsed;
    const checked = parseDirectoryFile(parsed.input, clock.now());
    if (!checked.ok) return checked;
    const problems: Problem[] = [];
    const hint = scope.user.directory.hint;
    if (checked.file.directory.hint !== hint) {
      problems.push({
        path: 'directory.hint',
        message: `is "${checked.file.directory.hint}", but this is the directory "${hint}": a file for another directory cannot be imported here`,
      });
    } else {
      const stored = await db('directories').where({ id: scope.directoryId }).first('sign_in');
      if (canonical(stored?.sign_in ?? { password: true }) !== canonical(normalizeSignIn(checked.file.directory.signIn))) {
        problems.push({
          path: 'directory.signIn',
          message: 'differs from the directory’s sign-in settings: they can only be changed by whoever runs Portico, with the command line (npm run import)',
        });
      }
    }
    return problems.length ? { ok: false, problems } : { ok: true, input: parsed.input };
  }

  return {
    /** The dry run: what importing the file would change, with nothing written. */
    async plan(scope: AdminScope, text: string, actor: Actor): Promise<PlanOutcome> {
      requireAdministrator(scope);
      const checked = await check(scope, text);
      if (!checked.ok) return checked;
      const result = await importDirectory(db, checked.input, { dryRun: true, clock, actor });
      if (!result.ok) return result;
      return { ok: true, plan: result.plan, fingerprint: planFingerprint(result.plan) };
    },

    /**
     * Imports the file for real, in one transaction, only if it would still make the changes that
     * were shown (`fingerprint`); otherwise nothing is written and the new plan comes back.
     */
    async apply(scope: AdminScope, text: string, fingerprint: string, actor: Actor): Promise<ApplyOutcome> {
      requireAdministrator(scope);
      const checked = await check(scope, text);
      if (!checked.ok) return checked;
      try {
        return await db.transaction(async (trx) => {
          const result = await importDirectoryWith(trx, checked.input, { clock, actor });
          if (!result.ok) throw new Rollback(result);
          const now = planFingerprint(result.plan);
          if (now !== fingerprint) throw new Rollback({ ok: 'changed', plan: { ...result.plan, dryRun: true }, fingerprint: now });
          return { ok: true as const, plan: result.plan, applied: result.applied };
        });
      } catch (err) {
        if (err instanceof Rollback) return err.outcome;
        throw err;
      }
    },

    /** The directory as a file, and an audit entry saying who took it (it holds password hashes). */
    async exportFile(scope: AdminScope, actor: Actor): Promise<{ json: string; filename: string }> {
      requireAdministrator(scope);
      const hint = scope.user.directory.hint;
      const file = await exportDirectory(db, hint);
      const now = clock.now();
      await recordAudit(db, actor, { action: 'directory.exported', at: now, directoryId: scope.directoryId, targetType: 'directory', targetId: scope.directoryId, details: { hint } });
      return { json: `${JSON.stringify(file, null, 2)}\n`, filename: `${hint}-${now.toISOString().slice(0, 10)}.json` };
    },
  };
}

export type DirectoryFileAdmin = ReturnType<typeof createDirectoryFileAdmin>;

/** Object kinds of a plan in words, singular and plural. */
export const KIND_LABELS: Record<ImportPlan['changes'][number]['kind'], [string, string]> = {
  directory: ['Directory', 'Directories'],
  user: ['User', 'Users'],
  group: ['Group', 'Groups'],
  catalog: ['Catalog', 'Catalogs'],
  resource: ['Resource', 'Resources'],
  accessPackage: ['Access package', 'Access packages'],
  policy: ['Policy', 'Policies'],
  assignment: ['Assignment', 'Assignments'],
  accessReview: ['Access review', 'Access reviews'],
};

export const ACTION_LABELS: Record<ImportPlan['changes'][number]['action'], [string, string]> = {
  create: ['Create', 'created'],
  update: ['Update', 'updated'],
  remove: ['Remove', 'removed'],
  disable: ['Disable', 'disabled'],
  end: ['End', 'ended'],
};

/** "Users: 2 created, 1 updated; Groups: 1 removed" */
export function planSummary(plan: ImportPlan): string {
  const parts: string[] = [];
  for (const [kind, [, many]] of Object.entries(KIND_LABELS) as [keyof typeof KIND_LABELS, [string, string]][]) {
    const counts = plan.counts[kind];
    const done = (Object.keys(ACTION_LABELS) as (keyof typeof ACTION_LABELS)[]).filter((a) => counts[a] > 0).map((a) => `${counts[a]} ${ACTION_LABELS[a][1]}`);
    if (done.length) parts.push(`${many}: ${done.join(', ')}`);
  }
  return parts.join('; ');
}
