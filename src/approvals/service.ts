import type { Knex } from 'knex';
import { recordAudit, systemActor, type Actor } from '../audit/audit.ts';
import type { CurrentUser } from '../auth/current-user.ts';
import type { Clock } from '../clock.ts';
import { conflict, FieldErrors, notFound } from '../errors.ts';
import type { Notifier } from '../notifications/notifier.ts';
import { requestDetails, requestTimeline } from '../requests/data.ts';
import { deliverable, deliverRequest } from '../requests/delivery.ts';
import { closeApproverItems } from '../requests/service.ts';
import { describeTimeline } from '../requests/timeline.ts';
import { serializeKey, toPage, type Page, type PageRequest } from '../shared/keyset.ts';
import { stageForDecision, decisionsBy, pendingForApprover, requestorProfile, type PastDecision, type PendingApproval } from './data.ts';
import { expireDueStages, hasOverdueStage } from './lifecycle.ts';
import { startStage } from './stages.ts';

const PAGE_SIZE = 20;
export const JUSTIFICATION_MAX = 2000;

export interface DecisionInput {
  decision: string;
  justification: string;
  /** The stage the approver saw: a decision for a stage that has moved on is stale. */
  stage: string;
}

const notApprover = () => notFound('Request not found', 'There is no request at this address waiting for your approval.');

export function createApprovalService(deps: { db: Knex; clock: Clock; notifier: Notifier }) {
  const { db, clock, notifier } = deps;

  /** The request as an approver may see it: only if they were asked to decide some stage of it. */
  async function approverView(user: CurrentUser, requestId: string) {
    const request = await requestDetails(db, requestId);
    if (!request || request.directoryId !== user.directory.id || request.targetUserId === user.id) throw notApprover();
    const mine = request.stages.flatMap((s) => s.approvers.filter((a) => a.userId === user.id).map((a) => ({ stageId: s.id, open: a.open })));
    if (mine.length === 0) throw notApprover();
    const current = request.stages.find((s) => s.state === 'pending') ?? null;
    const canDecide = request.state === 'pendingApproval' && !!current && mine.some((m) => m.stageId === current.id && m.open) && !!current.dueAt && current.dueAt > clock.now();
    return {
      request,
      profile: await requestorProfile(db, request.targetUserId),
      timeline: describeTimeline(await requestTimeline(db, requestId)),
      currentStage: current,
      canDecide,
      // Past its deadline, a stage the sweep has not expired yet can no longer be decided.
      deadlinePassed: request.state === 'pendingApproval' && !!current?.dueAt && current.dueAt <= clock.now(),
    };
  }

  return {
    async pending(user: CurrentUser, page: PageRequest): Promise<Page<PendingApproval>> {
      const rows = await pendingForApprover(db, user.id, page, PAGE_SIZE);
      return toPage(rows, PAGE_SIZE, page, (r) => [serializeKey(r.dueAt), r.requestId]);
    },

    async history(user: CurrentUser, page: PageRequest): Promise<Page<PastDecision & { stageId: string }>> {
      const rows = await decisionsBy(db, user.id, page, PAGE_SIZE);
      return toPage(rows, PAGE_SIZE, page, (r) => [serializeKey(r.decidedAt), r.stageId]);
    },

    view: approverView,

    /**
     * Approve or deny the current stage. The request row is locked first, so two approvers, an
     * approver and a cancel, or an approver and the timeout are decided one after the other: the
     * second finds the stage no longer pending and gets a 409 saying what happened.
     */
    async decide(user: CurrentUser, requestId: string, input: DecisionInput, actor: Actor): Promise<{ request: { requestorName: string; packageName: string }; outcome: 'approved' | 'denied' | 'nextStage' | 'delivered' | 'scheduled' | 'deliveryFailed' | 'noApprover' }> {
      const decision = input.decision === 'approve' || input.decision === 'deny' ? input.decision : null;
      const justification = input.justification.trim();
      // The deadline may have passed before the sweep noticed: the timeout wins, as it would have.
      if (await hasOverdueStage(db, requestId, clock.now())) {
        await db.transaction((trx) => expireDueStages(trx, clock.now(), systemActor('lifecycle'), notifier, { requestId }));
      }
      return db.transaction(async (trx) => {
        const now = clock.now();
        const r = await trx('requests as r')
          .join('access_packages as p', 'p.id', 'r.access_package_id')
          .join('users as u', 'u.id', 'r.target_user_id')
          .where('r.id', requestId)
          .forUpdate('r')
          .first('r.id', 'r.state', 'r.directory_id', 'r.access_package_id', 'r.policy_id', 'r.target_user_id', 'r.current_stage', 'r.requested_start', 'r.requested_end', 'r.expiration', 'u.display_name as requestor_name', 'p.name as package_name');
        if (!r || r.directory_id !== user.directory.id || r.target_user_id === user.id) throw notApprover();
        const request = { requestorName: r.requestor_name as string, packageName: r.package_name as string };
        const stage = await stageForDecision(trx, requestId, r.current_stage ?? 1, user.id);
        if (!stage?.asked) throw notApprover();

        if (r.state !== 'pendingApproval') throw await staleDecision(trx, requestId, r.state);
        if (String(stage.position) !== input.stage) throw await staleDecision(trx, requestId, r.state, Number(input.stage));
        if (!stage.asked_now) throw await staleDecision(trx, requestId, r.state, Number(input.stage));
        if (stage.due_at && new Date(stage.due_at) <= now) throw await staleDecision(trx, requestId, 'expired');

        const errors = new FieldErrors();
        if (!decision) errors.add('decision', 'Choose Approve or Deny', '#decision');
        if (stage.require_approver_justification && !justification) errors.add('justification', 'Enter a justification for your decision');
        else if (justification.length > JUSTIFICATION_MAX) errors.add('justification', `Justification must be ${JUSTIFICATION_MAX.toLocaleString('en-GB')} characters or fewer`);
        errors.throwIfAny();

        const decided = await trx('request_stages')
          .where({ id: stage.id, state: 'pending' })
          .update({ state: decision === 'approve' ? 'approved' : 'denied', decision, decided_at: now, decided_by_id: user.id, justification: justification || null });
        if (decided !== 1) throw await staleDecision(trx, requestId, r.state);
        const asked: { user_id: string }[] = await trx('request_stage_approvers').where({ stage_id: stage.id }).update({ open: false }).returning('user_id');
        const askedIds = asked.map((a) => a.user_id);
        await notifier.stageDecided(trx, requestId, stage.position, decision!, user.id, askedIds);

        if (decision === 'deny') {
          await trx('requests').where({ id: requestId }).update({ state: 'denied', completed_at: now, updated_at: now });
          await trx('request_stages').where({ request_id: requestId, state: 'waiting' }).update({ state: 'canceled' });
          await recordAudit(trx, actor, { action: 'request.denied', at: now, targetType: 'request', targetId: requestId, details: { stage: stage.position, justification: justification || null } });
          await notifier.requestDenied(trx, requestId, user.displayName, justification || null);
          return { request, outcome: 'denied' as const };
        }
        await recordAudit(trx, actor, { action: 'request.stageApproved', at: now, targetType: 'request', targetId: requestId, details: { stage: stage.position, justification: justification || null } });
        if (stage.has_next) {
          const next = stage.position + 1;
          const started = await startStage(trx, requestId, next, r.target_user_id, now);
          if (started.approvers.length === 0) {
            await endWithoutApprover(trx, requestId, next, now, actor, notifier);
            return { request, outcome: 'noApprover' as const };
          }
          await notifier.approvalNeeded(trx, requestId, next, started.approvers.map((a) => a.userId), started.dueAt);
          return { request, outcome: 'nextStage' as const };
        }
        // Approved at its last stage: delivery moves it on to Delivered, Scheduled or Delivery failed.
        return { request, outcome: await deliverRequest(trx, deliverable(r), now, actor, notifier) };
      });
    },
  };
}

/** The 409 an approver gets when someone or something got there first, saying who and what. */
async function staleDecision(trx: Knex, requestId: string, state: string, stagePosted?: number) {
  const last = await trx('request_stages as s').leftJoin('users as u', 'u.id', 's.decided_by_id').where('s.request_id', requestId).whereNotNull('s.decided_at').orderBy([{ column: 's.decided_at', order: 'desc' }, { column: 's.position', order: 'desc' }]).first('s.position', 's.decision', 'u.display_name');
  switch (state) {
    case 'canceled':
      return conflict('This request was canceled', 'The requestor canceled this request, so there is nothing left to decide.');
    case 'expired':
      return conflict('This request has expired', 'Nobody decided in time, so the request expired. The requestor can resubmit it.');
    case 'denied':
      return conflict('This request was already denied', last ? `${last.display_name ?? 'Another approver'} denied it at stage ${last.position}.` : 'Another approver denied it.');
    case 'pendingApproval':
      return conflict(
        'This stage was already decided',
        last && (!stagePosted || last.position === stagePosted)
          ? `${last.display_name ?? 'Another approver'} ${last.decision === 'approve' ? 'approved' : 'denied'} stage ${last.position} first. The request now waits for the next stage's approvers.`
          : 'Another approver decided first.',
      );
    default: {
      // Approved: what became of it says the rest (delivered, scheduled to start, or not delivered).
      const outcome = state === 'scheduled' ? 'the access is scheduled to start on its start date' : state === 'deliveryFailed' ? 'the access could not be delivered' : 'the access has been delivered';
      return conflict('This request was already approved', last ? `${last.display_name ?? 'Another approver'} approved it${last.position > 1 ? ` at stage ${last.position}` : ''}, and ${outcome}.` : 'It has already been decided.');
    }
  }
}

/** A later stage started with nobody able to decide it: the request ends as Expired, with the reason, instead of hanging. */
export async function endWithoutApprover(trx: Knex, requestId: string, position: number, now: Date, actor: Actor, notifier: Notifier): Promise<void> {
  await trx('request_stages').where({ request_id: requestId, position }).update({ state: 'expired' });
  await trx('request_stages').where({ request_id: requestId, state: 'waiting' }).update({ state: 'canceled' });
  await trx('requests').where({ id: requestId }).update({ state: 'expired', completed_at: now, updated_at: now });
  await closeApproverItems(trx, requestId);
  const reason = `Stage ${position} had nobody who could approve it (no manager, sponsor or group member other than the requestor), so the request could not go on. An administrator must fix the policy or the directory before it is resubmitted.`;
  await recordAudit(trx, actor, { action: 'request.expired', at: now, targetType: 'request', targetId: requestId, details: { stage: position, reason } });
  await notifier.requestsExpired(trx, [{ requestId, stage: position, approverIds: [], reason }]);
}

export type ApprovalService = ReturnType<typeof createApprovalService>;
