import type { Knex } from 'knex';
import { liveAssignmentOf } from '../access-packages/data.ts';
import { deliverAssignment, isLiveAssignmentTaken, revokeResourceRoles } from '../assignments/delivery.ts';
import { recordAudit, type Actor } from '../audit/audit.ts';
import type { Clock } from '../clock.ts';
import { conflict, FieldErrors, ValidationFailed } from '../errors.ts';
import type { Notifier } from '../notifications/notifier.ts';
import { policyById } from '../policies/data.ts';
import { describeExpiration, policyEnd, type Policy } from '../policies/policy.ts';
import { insertRequest, openRequestFor } from '../requests/data.ts';
import { incompatibleHoldings } from '../requests/data.ts';
import { endOfDay, formatDay, parseDate, startOfDay } from '../requests/service.ts';
import { toPage, type Page, type PageRequest } from '../shared/keyset.ts';
import { packageInScope, type PackageRow } from './data.ts';
import {
  assignmentOfPackage,
  assignmentsOfPackage,
  userByEmail,
  type AdminAssignmentRow,
  type AssignmentForRemoval,
  type AssignmentStateFilter,
} from './assignment-data.ts';
import { adminNotFound, type AdminScope } from './scope.ts';

const PAGE_SIZE = 25;
export const REASON_MAX = 2000;

/** The "Assign a user" form as sent: text as typed. */
export interface AssignInput {
  email: string;
  policyId: string;
  startDate: string;
  endDate: string;
  justification: string;
}

export const emptyAssignInput = (): AssignInput => ({ email: '', policyId: '', startDate: '', endDate: '', justification: '' });

const LIVE = ['scheduled', 'delivered'];

/**
 * Assignments of an access package, run by administrators and the owners of its catalog: the list,
 * direct assignment (under the same separation-of-duties rule as requests) and removal.
 */
export function createAssignmentAdmin(deps: { db: Knex; clock: Clock; notifier: Notifier }) {
  const { db, clock, notifier } = deps;

  async function packageOrNotFound(scope: AdminScope, packageId: string): Promise<PackageRow> {
    const pkg = await packageInScope(db, scope, packageId);
    if (!pkg) throw adminNotFound();
    return pkg;
  }

  async function policiesOf(trx: Knex, packageId: string): Promise<Policy[]> {
    const ids: string[] = await trx('policies').where({ access_package_id: packageId }).orderBy(['position', 'name']).pluck('id');
    const policies: Policy[] = [];
    for (const id of ids) {
      const p = await policyById(trx, id);
      if (p) policies.push(p);
    }
    return policies;
  }

  return {
    async list(scope: AdminScope, packageId: string, filter: { state: AssignmentStateFilter; q: string }, page: PageRequest): Promise<{ pkg: PackageRow; page: Page<AdminAssignmentRow> }> {
      const pkg = await packageOrNotFound(scope, packageId);
      const rows = await assignmentsOfPackage(db, packageId, filter, page, PAGE_SIZE);
      return { pkg, page: toPage(rows, PAGE_SIZE, page, (r) => [r.sortName, r.id]) };
    },

    /** What the "Assign a user" form offers: every policy of the package (administrators assign under any of them). */
    async assignForm(scope: AdminScope, packageId: string): Promise<{ pkg: PackageRow; policies: (Policy & { expirationText: string })[] }> {
      const pkg = await packageOrNotFound(scope, packageId);
      const policies = (await policiesOf(db, packageId)).map((p) => ({ ...p, expirationText: describeExpiration(p.expiration, formatDay) }));
      return { pkg, policies };
    },

    /**
     * Assigns the package to a person directly. The person's row is locked for the whole check, as a
     * request submission does, so a concurrent request or assignment is decided one after the other.
     */
    async assign(scope: AdminScope, packageId: string, input: AssignInput, actor: Actor): Promise<{ assignmentId: string; requestId: string; state: 'scheduled' | 'delivered'; userName: string; packageName: string }> {
      const pkg = await packageOrNotFound(scope, packageId);
      return db.transaction(async (trx) => {
        const now = clock.now();
        const errors = new FieldErrors();
        const email = input.email.trim().toLowerCase();
        let user: Awaited<ReturnType<typeof userByEmail>> = null;
        if (!email) errors.add('email', 'Enter the email address of the person to assign');
        else if (email.length > 320) errors.add('email', 'Email address must be 320 characters or fewer');
        else {
          user = await userByEmail(trx, scope.directoryId, email, { forUpdate: true });
          if (!user) errors.add('email', `There is no user with the email address ${email} in this directory`);
          else if (user.disabledAt) errors.add('email', `${user.displayName} (${user.email}) is disabled, so they cannot be given access`);
        }

        const policies = await policiesOf(trx, packageId);
        const policy = policies.find((p) => p.id === input.policyId) ?? null;
        if (!input.policyId) errors.add('policy', 'Select a policy');
        else if (!policy) errors.add('policy', 'Select one of the policies of this access package');

        // Start and end: calendar days; an empty start is now, an empty end the policy's expiration.
        const today = startOfDay(now);
        const start = input.startDate ? parseDate(input.startDate) : null;
        const end = input.endDate ? parseDate(input.endDate) : null;
        if (input.startDate && !start) errors.add('startDate', 'Start date must be a real date, like 2027-01-31');
        else if (start && start < today) errors.add('startDate', 'Start date must be today or in the future');
        if (input.endDate && !end) errors.add('endDate', 'End date must be a real date, like 2027-01-31');
        const requestedStart = start && start > today ? start : null;
        const effectiveStart = requestedStart ?? now;
        const requestedEnd = end ? endOfDay(end) : null;
        if (end && !errors.has('startDate')) {
          if (end < (start ?? today)) errors.add('endDate', 'End date must be the same as or after the start date');
          else if (requestedEnd! <= effectiveStart) errors.add('endDate', 'End date must be after the start');
        }
        if (policy && !input.endDate) {
          const policyEnds = policyEnd(policy.expiration, effectiveStart);
          if (policyEnds && policyEnds <= effectiveStart) {
            errors.add('endDate', `The policy “${policy.name}” gives access until ${formatDay(policyEnds)}, which has passed: enter an end date`);
          }
        }
        const justification = input.justification.trim();
        if (justification.length > REASON_MAX) errors.add('justification', `Reason must be ${REASON_MAX.toLocaleString('en-GB')} characters or fewer`);

        // Whole-assignment rules, shown at the top of the form.
        if (user && !user.disabledAt) {
          const live = await liveAssignmentOf(trx, user.id, packageId);
          if (live) {
            errors.add(
              'assignment',
              live.endsAt ? `${user.displayName} already has ${pkg.name} until ${formatDay(live.endsAt)}` : `${user.displayName} already has ${pkg.name}, with no end date`,
              '#main',
            );
          }
          const [open] = await openRequestFor(trx, user.id, [packageId]);
          if (open) {
            errors.add('assignment', `${user.displayName} has a request for ${pkg.name} that is still open. Wait for it to be decided, or cancel it, before assigning the access package directly.`, '#main');
          }
          for (const c of await incompatibleHoldings(trx, user.id, packageId)) {
            errors.add(
              `assignment-${c.id}`,
              c.kind === 'assignment'
                ? `${user.displayName} cannot be assigned ${pkg.name} because they have ${c.name}. The two are incompatible (separation of duties).`
                : `${user.displayName} cannot be assigned ${pkg.name} because they have a pending request for ${c.name}. The two are incompatible (separation of duties).`,
              '#main',
            );
          }
        }
        if (errors.any) throw new ValidationFailed(errors.toArray());
        const person = user!;
        const chosen = policy!;

        const state = requestedStart && requestedStart > now ? 'scheduled' : 'delivered';
        const requestId = await insertRequest(trx, {
          directoryId: scope.directoryId,
          accessPackageId: packageId,
          policyId: chosen.id,
          targetUserId: person.id,
          requestedById: scope.user.id,
          type: 'adminAdd',
          state,
          justification: justification || null,
          answers: [],
          requestorAttributes: [],
          requestedStart,
          requestedEnd,
          expiration: chosen.expiration,
          resubmitsRequestId: null,
          submissionKey: null,
          currentStage: null,
          submittedAt: now,
        });
        await trx('requests').where({ id: requestId }).update({ completed_at: now });
        let delivered;
        try {
          delivered = await deliverAssignment(
            trx,
            { directoryId: scope.directoryId, accessPackageId: packageId, policyId: chosen.id, userId: person.id, requestId, origin: 'admin', requestedStart, requestedEnd, expiration: chosen.expiration },
            now,
            actor,
          );
        } catch (err) {
          // Someone assigned or delivered it meanwhile.
          if (isLiveAssignmentTaken(err)) throw conflict('This person already has this access package', `${person.displayName} was given ${pkg.name} a moment ago. Reload the list of assignments.`);
          throw err;
        }
        const after = { user: person.email, policy: chosen.name, state: delivered.state, startsAt: delivered.startsAt, endsAt: delivered.endsAt };
        await recordAudit(trx, actor, {
          action: 'request.adminAssigned',
          at: now,
          directoryId: scope.directoryId,
          targetType: 'request',
          targetId: requestId,
          details: { accessPackageId: packageId, packageName: pkg.name, policyName: chosen.name, userId: person.id, userEmail: person.email, assignmentId: delivered.assignmentId, justification: justification || null, before: null, after },
        });
        await recordAudit(trx, actor, {
          action: delivered.state === 'delivered' ? 'request.delivered' : 'request.scheduled',
          at: now,
          directoryId: scope.directoryId,
          targetType: 'request',
          targetId: requestId,
          details: { startsAt: delivered.startsAt, endsAt: delivered.endsAt },
        });
        // Scheduled access is announced when it starts (the sweep delivers it then).
        if (delivered.state === 'delivered') await notifier.accessGranted(trx, [delivered.assignmentId]);
        return { assignmentId: delivered.assignmentId, requestId, state: delivered.state, userName: person.displayName, packageName: pkg.name };
      });
    },

    /** The assignment a removal confirmation is about (any state: an ended one says so). */
    async removal(scope: AdminScope, packageId: string, assignmentId: string): Promise<{ pkg: PackageRow; assignment: AssignmentForRemoval }> {
      const pkg = await packageOrNotFound(scope, packageId);
      const assignment = await assignmentOfPackage(db, packageId, assignmentId);
      if (!assignment) throw adminNotFound();
      return { pkg, assignment };
    },

    /**
     * Ends a live assignment now: its grants are revoked, the person is told, and their Request
     * history records the removal. Two removals at once: the second finds it ended (409).
     */
    async remove(scope: AdminScope, packageId: string, assignmentId: string, actor: Actor): Promise<{ userName: string; packageName: string }> {
      const pkg = await packageOrNotFound(scope, packageId);
      return db.transaction(async (trx) => {
        const now = clock.now();
        const a = await assignmentOfPackage(trx, packageId, assignmentId, { forUpdate: true });
        if (!a) throw adminNotFound();
        const ended = await trx('assignments')
          .where({ id: a.id })
          .whereIn('state', LIVE)
          .update({ state: 'expired', ended_at: now, end_reason: 'removedByAdmin', updated_at: now })
          .returning('id');
        if (ended.length === 0) {
          throw conflict(
            'This assignment has already ended',
            `${a.userName}’s access to ${pkg.name} ended on ${formatDay(new Date(a.endedAt ?? now))}, so there is nothing to remove.`,
          );
        }
        const revoked = await revokeResourceRoles(trx, a.id, now);
        const requestId = await insertRequest(trx, {
          directoryId: a.directoryId,
          accessPackageId: packageId,
          policyId: a.policyId,
          targetUserId: a.userId,
          requestedById: scope.user.id,
          type: 'adminRemove',
          state: 'delivered',
          justification: null,
          answers: [],
          requestorAttributes: [],
          requestedStart: null,
          requestedEnd: null,
          expiration: { kind: 'never' },
          resubmitsRequestId: null,
          submissionKey: null,
          currentStage: null,
          submittedAt: now,
        });
        await trx('requests').where({ id: requestId }).update({ completed_at: now });
        const before = { user: a.userEmail, policy: a.policyName, state: a.state, startsAt: a.startsAt, endsAt: a.endsAt, endedAt: null, endReason: null };
        const after = { ...before, state: 'expired', endedAt: now, endReason: 'removedByAdmin' };
        await recordAudit(trx, actor, {
          action: 'assignment.removed',
          at: now,
          directoryId: a.directoryId,
          targetType: 'assignment',
          targetId: a.id,
          details: { reason: 'removedByAdmin', accessPackageId: packageId, packageName: pkg.name, userId: a.userId, userEmail: a.userEmail, requestId, grantsRevoked: revoked, before, after },
        });
        await recordAudit(trx, actor, {
          action: 'request.adminRemoved',
          at: now,
          directoryId: a.directoryId,
          targetType: 'request',
          targetId: requestId,
          details: { accessPackageId: packageId, packageName: pkg.name, userEmail: a.userEmail, assignmentId: a.id },
        });
        // Access that had not started yet: the request that scheduled it never delivered, so it ends
        // as Canceled (instead of staying Scheduled for good).
        const neverStarted = a.state === 'scheduled';
        if (a.requestId && neverStarted) {
          await trx('requests').where({ id: a.requestId, state: 'scheduled' }).update({ state: 'canceled', completed_at: now, updated_at: now });
          await recordAudit(trx, actor, {
            action: 'request.canceled', at: now, directoryId: a.directoryId, targetType: 'request', targetId: a.requestId,
            details: { reason: 'An administrator removed the access before it started.' },
          });
        } else if (a.requestId) {
          await recordAudit(trx, actor, { action: 'request.accessEnded', at: now, directoryId: a.directoryId, targetType: 'request', targetId: a.requestId, details: { reason: 'removedByAdmin' } });
        }
        await notifier.accessEnded(trx, [a.id], neverStarted ? 'an administrator removed it before it started.' : 'an administrator removed it.');
        return { userName: a.userName, packageName: pkg.name };
      });
    },
  };
}

export type AssignmentAdmin = ReturnType<typeof createAssignmentAdmin>;
