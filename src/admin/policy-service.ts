import type { Knex } from 'knex';
import type { Actor } from '../audit/audit.ts';
import type { Clock } from '../clock.ts';
import { FieldErrors } from '../errors.ts';
import { exportDirectoryWith } from '../directory/export.ts';
import { locatePackage } from './catalog-service.ts';
import { groupsOfDirectory, packageInScope } from './data.ts';
import { editDirectory, located, type EditableFile } from './directory-edit.ts';
import { checkFormVersion, formVersion } from './form-version.ts';
import { emptyPolicy, policyFieldFor, type FilePolicy } from './policy-form.ts';
import { adminNotFound, type AdminScope } from './scope.ts';

/** The policy editor: every setting of the file format, saved through the import's validation. */
export function createPolicyAdmin(deps: { db: Knex; clock: Clock }) {
  const { db, clock } = deps;

  async function packageOrNotFound(scope: AdminScope, packageId: string) {
    const pkg = await packageInScope(db, scope, packageId);
    if (!pkg) throw adminNotFound();
    return pkg;
  }

  async function policyName(packageId: string, policyId: string): Promise<string> {
    const row = await db('policies').where({ id: policyId, access_package_id: packageId }).first('name');
    if (!row) throw adminNotFound();
    return row.name;
  }

  return {
    /** The package, its directory's groups (for pickers), and the policy as the file format has it (a new one when policyId is null). */
    async editor(scope: AdminScope, packageId: string, policyId: string | null) {
      const pkg = await packageOrNotFound(scope, packageId);
      const groups = await groupsOfDirectory(db, scope.directoryId);
      if (!policyId) return { pkg, groups, policy: emptyPolicy() };
      const name = await policyName(packageId, policyId);
      const policy = await db.transaction(async (trx) => {
        const dir = await trx('directories').where({ id: scope.directoryId }).first('hint');
        const file = (await exportDirectoryWith(trx, dir.hint)) as EditableFile;
        const { pkg: filePkg } = locatePackage(file, packageId);
        return located((filePkg.policies ?? []).find((p) => p.name === name)) as FilePolicy;
      });
      return { pkg, groups, policy, version: formVersion(policy) };
    },

    /** Saves a policy (new when policyId is null). Requests already made keep the settings they were made under. */
    /** `version`: the fingerprint of the policy as the form was opened (see form-version.ts). */
    async save(scope: AdminScope, packageId: string, policyId: string | null, policy: FilePolicy, actor: Actor, version?: string): Promise<void> {
      const pkg = await packageOrNotFound(scope, packageId);
      const currentName = policyId ? await policyName(packageId, policyId) : null;
      if (policy.name !== currentName && (await db('policies').where({ access_package_id: packageId, name: policy.name }).first('id'))) {
        new FieldErrors().add('name', `Name: this access package already has a policy called ${policy.name}`).throwIfAny();
      }
      await editDirectory(db, clock, actor, scope.directoryId, async (file, trx) => {
        const { ci, pi, pkg: filePkg } = locatePackage(file, packageId);
        const policies = (filePkg.policies ??= []);
        let k: number;
        let before: unknown = null;
        if (currentName !== null) {
          k = located(policies.findIndex((p) => p.name === currentName));
          checkFormVersion(version, formVersion(policies[k]), `the policy ${currentName}`);
          before = structuredClone(policies[k]);
          // Policies are matched by name in their package: a rename goes to the row first.
          if (policy.name !== currentName) await trx('policies').where({ id: policyId }).update({ name: policy.name });
          policies[k] = policy as (typeof policies)[number];
        } else {
          policies.push(policy as (typeof policies)[number]);
          k = policies.length - 1;
        }
        return {
          path: `catalogs[${ci}].accessPackages[${pi}].policies[${k}]`,
          fieldFor: policyFieldFor,
          audit: {
            action: currentName ? 'policy.updated' : 'policy.created',
            targetType: 'policy',
            targetId: policyId ?? (async (t) => (await t('policies').where({ access_package_id: packageId, name: policy.name }).first('id')).id),
            label: `${pkg.name}: ${policy.name}`,
          },
          before,
          after: () => policies[k],
          result: undefined,
        };
      });
    },

    /** Removes a policy; refused (with the import's explanation) while requests or assignments refer to it. */
    async remove(scope: AdminScope, packageId: string, policyId: string, actor: Actor): Promise<void> {
      const pkg = await packageOrNotFound(scope, packageId);
      const name = await policyName(packageId, policyId);
      const [{ n: live }] = await db('assignments').where({ policy_id: policyId }).whereIn('state', ['scheduled', 'delivered']).count('* as n');
      if (Number(live) > 0) {
        new FieldErrors().add('form', `${Number(live)} active ${Number(live) === 1 ? 'assignment was' : 'assignments were'} granted under this policy: it cannot be removed while they last. Untick “Accepting requests” to stop new requests.`, '#main').throwIfAny();
      }
      await editDirectory(db, clock, actor, scope.directoryId, (file) => {
        const { ci, pi, pkg: filePkg } = locatePackage(file, packageId);
        const k = located((filePkg.policies ?? []).findIndex((p) => p.name === name));
        const [before] = filePkg.policies!.splice(k, 1);
        file.assignments = file.assignments.filter((a) => !(a.accessPackage === packageId && a.policy === name));
        return {
          path: `catalogs[${ci}].accessPackages[${pi}].policies`,
          fieldFor: () => undefined,
          audit: { action: 'policy.removed', targetType: 'policy', targetId: policyId, label: `${pkg.name}: ${name}` },
          before,
          after: () => null,
          result: undefined,
        };
      });
    },

    async policyIdByName(packageId: string, name: string): Promise<string | null> {
      return (await db('policies').where({ access_package_id: packageId, name }).first('id'))?.id ?? null;
    },
  };
}

export type PolicyAdmin = ReturnType<typeof createPolicyAdmin>;
