import type { Knex } from 'knex';
import type { Expiration, Policy, PolicyApprover, PolicyStage } from './policy.ts';

/** Who is asking: enough to decide which policies take their requests. */
export interface Requestor {
  id: string;
  directoryId: string;
  type: 'member' | 'guest';
}

/**
 * SQL condition: the policy aliased `pol` takes new requests from this person now. The one
 * definition of "may request", used by the Available list, the package pane and the submit rule.
 */
export function policyTakesRequestsFrom(db: Knex, requestor: { id: string | Knex.Raw; type: Requestor['type'] }, now: Date | Knex.Raw): Knex.Raw {
  return db.raw(
    // The scopes open to this kind of person are written in the text (one statement for members, one
    // for guests), so a kept plan is made knowing them: as a value, the type made it 3.5 times dearer.
    `(pol.accept_requests
      and (pol.expiration_kind <> 'onDate' or pol.expiration_date > ?)
      and (pol.requestor_scope in (${requestor.type === 'member' ? `'allUsers', 'allMembers'` : `'allUsers'`})
        or (pol.requestor_scope = 'specific' and (
          exists (select 1 from policy_requestors pr where pr.policy_id = pol.id and pr.user_id = ?)
          or exists (select 1 from policy_requestors pr join group_members gm on gm.group_id = pr.group_id
                     where pr.policy_id = pol.id and gm.user_id = ?)))))`,
    [now, requestor.id, requestor.id],
  );
}

interface PolicyRow {
  id: string;
  access_package_id: string;
  name: string;
  description: string;
  requestor_scope: Policy['requestorScope'];
  accept_requests: boolean;
  require_justification: boolean;
  questions: Policy['questions'];
  requestor_attributes: Policy['requestorAttributes'];
  expiration_kind: Expiration['kind'];
  expiration_days: number | null;
  expiration_hours: number | null;
  expiration_date: Date | null;
  allow_custom_period: boolean;
  updated_at: Date;
}

function toExpiration(row: PolicyRow): Expiration {
  switch (row.expiration_kind) {
    case 'afterDays':
      return { kind: 'afterDays', days: row.expiration_days! };
    case 'afterHours':
      return { kind: 'afterHours', hours: row.expiration_hours! };
    case 'onDate':
      return { kind: 'onDate', date: new Date(row.expiration_date!) };
    default:
      return { kind: 'never' };
  }
}

/** Loads policies with their stages and approvers, in the package's order. */
async function hydrate(db: Knex, rows: PolicyRow[]): Promise<Policy[]> {
  if (rows.length === 0) return [];
  const stageRows = await db('policy_stages').whereIn('policy_id', rows.map((r) => r.id)).orderBy('position');
  const approverRows = stageRows.length
    ? await db('policy_stage_approvers as a')
        .leftJoin('users as u', 'u.id', 'a.user_id')
        .leftJoin('groups as g', 'g.id', 'a.group_id')
        .whereIn('a.stage_id', stageRows.map((s) => s.id))
        .orderBy('a.position')
        .select('a.stage_id', 'a.role', 'a.type', 'a.user_id', 'a.group_id', db.raw('coalesce(u.display_name, g.name) as name'))
    : [];
  return rows.map((row) => {
    const stages: PolicyStage[] = stageRows
      .filter((s) => s.policy_id === row.id)
      .map((s) => ({
        position: s.position,
        timeoutDays: s.timeout_days,
        requireApproverJustification: s.require_approver_justification,
        escalationAfterDays: s.escalation_after_days,
        approvers: approverRows
          .filter((a) => a.stage_id === s.id)
          .map((a): PolicyApprover => ({ role: a.role, type: a.type, userId: a.user_id, groupId: a.group_id, name: a.name })),
      }));
    return {
      id: row.id,
      accessPackageId: row.access_package_id,
      name: row.name,
      description: row.description,
      requestorScope: row.requestor_scope,
      acceptRequests: row.accept_requests,
      requireJustification: row.require_justification,
      questions: row.questions ?? [],
      requestorAttributes: row.requestor_attributes ?? [],
      expiration: toExpiration(row),
      allowCustomPeriod: row.allow_custom_period,
      stages,
      updatedAt: new Date(row.updated_at),
    };
  });
}

/** The package's policies that take requests from this person now (hidden packages included). */
export async function requestablePolicies(db: Knex, requestor: Requestor, packageId: string, now: Date): Promise<Policy[]> {
  const rows: PolicyRow[] = await db('policies as pol')
    .join('access_packages as p', 'p.id', 'pol.access_package_id')
    .join('catalogs as c', 'c.id', 'p.catalog_id')
    .where('pol.access_package_id', packageId)
    .where('p.directory_id', requestor.directoryId)
    .where('c.enabled', true)
    .where(policyTakesRequestsFrom(db, requestor, now))
    .orderBy([{ column: 'pol.position' }, { column: 'pol.name' }])
    .select('pol.*');
  return hydrate(db, rows);
}

export async function policyById(db: Knex, policyId: string): Promise<Policy | null> {
  const rows: PolicyRow[] = await db('policies').where({ id: policyId }).select('*');
  return (await hydrate(db, rows))[0] ?? null;
}
