import type { Knex } from 'knex';
import { deliverAssignment } from '../assignments/delivery.ts';
import { recordAudit, type Actor } from '../audit/audit.ts';
import type { Notifier } from '../notifications/notifier.ts';
import { expirationFromJson, policyEnd, type Expiration } from '../policies/policy.ts';
import { incompatibleHoldings } from './data.ts';

/** What delivering a request needs of it: the caller has read it (or just made it) under its lock. */
export interface DeliverableRequest {
  id: string;
  directoryId: string;
  accessPackageId: string;
  policyId: string;
  targetUserId: string;
  requestedStart: Date | null;
  requestedEnd: Date | null;
  /** The policy's expiration when the request was made. */
  expiration: Expiration;
}

/** A request's row as read from `requests` (snake_case columns), as delivery needs it. */
export function deliverable(row: { id: string; directory_id: string; access_package_id: string; policy_id: string; target_user_id: string; requested_start: Date | string | null; requested_end: Date | string | null; expiration: unknown }): DeliverableRequest {
  return {
    id: row.id,
    directoryId: row.directory_id,
    accessPackageId: row.access_package_id,
    policyId: row.policy_id,
    targetUserId: row.target_user_id,
    requestedStart: row.requested_start ? new Date(row.requested_start) : null,
    requestedEnd: row.requested_end ? new Date(row.requested_end) : null,
    expiration: expirationFromJson(row.expiration),
  };
}

/**
 * The request is approved, or needs no approval: create its assignment (Delivered, or Scheduled
 * until a later start) under the expiration the policy had when the request was made. When that
 * can no longer be honoured, the request ends as Delivery failed, with the reason recorded.
 */
export async function deliverRequest(
  trx: Knex,
  request: DeliverableRequest,
  now: Date,
  actor: Actor,
  notifier: Notifier,
  /** The caller holds the person's row and found, while holding it, no live assignment of the package and no incompatible one. */
  options: { checkedUnderLock?: boolean } = {},
): Promise<'delivered' | 'scheduled' | 'deliveryFailed'> {
  const { id: requestId, expiration, requestedStart, requestedEnd } = request;
  const start = requestedStart && requestedStart > now ? requestedStart : now;
  const end = requestedEnd ?? policyEnd(expiration, start);
  // Why it cannot be delivered, for the audit log and for the requestor.
  let reason: { audit: string; requestor: string } | null = null;
  if (end && end <= start) {
    reason = {
      audit: 'the access would have ended before it started (the policy’s end date or the requested end date has passed)',
      requestor: 'the access would have ended before it started, because the policy’s end date or the end date you asked for has passed',
    };
  }
  if (!options.checkedUnderLock) {
    // The person's row is the lock every grant of access takes (a request, an administrator's
    // assignment; not a directory import, which the unique index assignments_one_live stops):
    // one of two at once waits, then finds the other's assignment here.
    await trx('users').where({ id: request.targetUserId }).forUpdate().first('id');
    const live = await trx('assignments').where({ user_id: request.targetUserId, access_package_id: request.accessPackageId }).whereIn('state', ['scheduled', 'delivered']).first('id');
    if (live) reason = { audit: 'the person already has this access package', requestor: 'you already have this access package' };
    // Separation of duties, again at delivery: a package may have been made incompatible with one the
    // person holds while the request waited for approval.
    const held = reason ? [] : await incompatibleHoldings(trx, request.targetUserId, request.accessPackageId, { requests: false });
    if (held.length) {
      const names = held.map((c) => c.name).join(', ');
      reason = {
        audit: `the person has ${names}, which is incompatible with this access package (separation of duties)`,
        requestor: `you have ${names}, which is incompatible with this access package (separation of duties)`,
      };
    }
  }
  if (reason) {
    await trx('requests').where({ id: requestId }).update({ state: 'deliveryFailed', completed_at: now, updated_at: now });
    await recordAudit(trx, actor, { action: 'request.deliveryFailed', at: now, targetType: 'request', targetId: requestId, details: { reason: `Not delivered: ${reason.audit}.` } });
    await notifier.requestNotDelivered(trx, requestId, reason.requestor);
    return 'deliveryFailed';
  }
  const delivered = await deliverAssignment(
    trx,
    {
      directoryId: request.directoryId,
      accessPackageId: request.accessPackageId,
      policyId: request.policyId,
      userId: request.targetUserId,
      requestId,
      origin: 'request',
      requestedStart,
      requestedEnd,
      expiration,
    },
    now,
    actor,
  );
  await trx('requests').where({ id: requestId }).update({ state: delivered.state, completed_at: now, updated_at: now });
  await recordAudit(trx, actor, {
    action: delivered.state === 'delivered' ? 'request.delivered' : 'request.scheduled',
    at: now,
    targetType: 'request',
    targetId: requestId,
    details: { startsAt: delivered.startsAt, endsAt: delivered.endsAt },
  });
  if (delivered.state === 'delivered') await notifier.accessGranted(trx, [delivered.assignmentId]);
  else await notifier.accessScheduled(trx, [delivered.assignmentId]);
  return delivered.state;
}
