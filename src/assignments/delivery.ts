import type { Knex } from 'knex';
import { recordAudit, type Actor } from '../audit/audit.ts';
import { policyEnd, type Expiration } from '../policies/policy.ts';

export interface DeliveryInput {
  directoryId: string;
  accessPackageId: string;
  policyId: string;
  userId: string;
  requestId: string | null;
  origin: 'request' | 'admin' | 'import';
  /** The chosen start, when later than now: the assignment is Scheduled until then. */
  requestedStart: Date | null;
  /** The chosen end; otherwise the policy's expiration decides. */
  requestedEnd: Date | null;
  expiration: Expiration;
}

export interface Delivered {
  assignmentId: string;
  state: 'scheduled' | 'delivered';
  startsAt: Date;
  endsAt: Date | null;
}

/** The error of a second live assignment of a package to a person, refused by the unique index assignments_one_live. */
export function isLiveAssignmentTaken(err: unknown): boolean {
  const e = err as { code?: string; constraint?: string } | null;
  return e?.code === '23505' && e.constraint === 'assignments_one_live';
}

/** Grants each assignment its package's resource roles: as it is delivered, or when a scheduled one starts. */
export async function grantResourceRoles(trx: Knex, assignmentIds: string[], at: Date): Promise<void> {
  // One id as a value, not a list of one: PostgreSQL keeps the plan (see whereIdIn).
  const which = assignmentIds.length === 1 ? 'a.id = ?' : 'a.id = any(?::uuid[])';
  await trx.raw(
    `insert into assignment_grants (assignment_id, resource_role_id, granted_at)
     select a.id, aprr.resource_role_id, ? from assignments a
     join access_package_resource_roles aprr on aprr.access_package_id = a.access_package_id
     where ${which}
     on conflict (assignment_id, resource_role_id) do nothing`,
    [at, assignmentIds.length === 1 ? assignmentIds[0] : assignmentIds],
  );
}

/** Revokes the live grants of one assignment, or of many (in chunks, for an access review removing thousands). */
export async function revokeResourceRoles(trx: Knex, assignmentIds: string | string[], at: Date): Promise<number> {
  const ids = typeof assignmentIds === 'string' ? [assignmentIds] : assignmentIds;
  let revoked = 0;
  for (let i = 0; i < ids.length; i += 1000) {
    revoked += await trx('assignment_grants').whereIn('assignment_id', ids.slice(i, i + 1000)).whereNull('revoked_at').update({ revoked_at: at });
  }
  return revoked;
}

/**
 * Creates the assignment that an approved (or approval-free) request, an administrator or an
 * import grants: Delivered with its grants now, or Scheduled when the start is in the future.
 * The caller holds a transaction; the one-live-assignment unique index refuses a duplicate.
 */
export async function deliverAssignment(trx: Knex, input: DeliveryInput, now: Date, actor: Actor): Promise<Delivered> {
  const startsAt = input.requestedStart && input.requestedStart > now ? input.requestedStart : now;
  const endsAt = input.requestedEnd ?? policyEnd(input.expiration, startsAt);
  if (endsAt && endsAt <= startsAt) {
    throw new Error('assignment would end before it starts');
  }
  const state = startsAt > now ? 'scheduled' : 'delivered';
  const [row] = await trx('assignments')
    .insert({
      directory_id: input.directoryId,
      access_package_id: input.accessPackageId,
      policy_id: input.policyId,
      user_id: input.userId,
      request_id: input.requestId,
      origin: input.origin,
      state,
      starts_at: startsAt,
      ends_at: endsAt,
      created_at: now,
      updated_at: now,
    })
    .returning('id');
  if (state === 'delivered') await grantResourceRoles(trx, [row.id], now);
  await recordAudit(trx, actor, {
    action: state === 'delivered' ? 'assignment.delivered' : 'assignment.scheduled',
    at: now,
    directoryId: input.directoryId,
    targetType: 'assignment',
    targetId: row.id,
    details: { accessPackageId: input.accessPackageId, userId: input.userId, requestId: input.requestId, startsAt, endsAt },
  });
  return { assignmentId: row.id, state, startsAt, endsAt };
}
