import type { Knex } from 'knex';
import { addDays } from '../clock.ts';
import type { Policy, PolicyApprover } from '../policies/policy.ts';
import { requestorFacts, resolveStageApprovers, type ResolvedApprover } from './approvers.ts';

/** Copies the policy's stages onto the request, all waiting, so later policy edits do not move it. */
export async function createRequestStages(trx: Knex, requestId: string, policy: Policy): Promise<void> {
  if (policy.stages.length === 0) return;
  await trx('request_stages').insert(
    policy.stages.map((s) => ({
      request_id: requestId,
      position: s.position,
      state: 'waiting',
      timeout_days: s.timeoutDays,
      require_approver_justification: s.requireApproverJustification,
      escalation_after_days: s.escalationAfterDays,
      approver_rules: JSON.stringify(s.approvers),
    })),
  );
}

/** Who would decide each stage if the request were submitted now (to refuse a request nobody can approve). */
export async function previewApprovers(db: Knex, policy: Policy, requestorId: string): Promise<ResolvedApprover[][]> {
  const facts = await requestorFacts(db, requestorId);
  const result: ResolvedApprover[][] = [];
  for (const stage of policy.stages) result.push(await resolveStageApprovers(db, stage.approvers, facts));
  return result;
}

/**
 * Opens a waiting stage: deadline, escalation or reminder time, and its approvers resolved now. Returns the
 * approvers; an empty list means nobody can decide, which the caller must settle.
 */
export async function startStage(trx: Knex, requestId: string, position: number, requestorId: string, now: Date): Promise<{ stageId: string; approvers: ResolvedApprover[]; dueAt: Date }> {
  const stage = await trx('request_stages').where({ request_id: requestId, position }).first('id', 'timeout_days', 'escalation_after_days', 'approver_rules');
  const rules = stage.approver_rules as PolicyApprover[];
  const approvers = await resolveStageApprovers(trx, rules, await requestorFacts(trx, requestorId));
  const dueAt = addDays(now, stage.timeout_days);
  await trx('request_stages')
    .where({ id: stage.id, state: 'waiting' })
    .update({
      state: 'pending',
      started_at: now,
      due_at: dueAt,
      escalate_at: stage.escalation_after_days ? addDays(now, stage.escalation_after_days) : null,
      // Halfway to the deadline, approvers are reminded; a stage that forwards to alternates is not.
      remind_at: stage.escalation_after_days ? null : new Date((now.getTime() + dueAt.getTime()) / 2),
    });
  if (approvers.length) {
    await trx('request_stage_approvers').insert(approvers.map((a) => ({ stage_id: stage.id, user_id: a.userId, kind: a.kind, open: true, due_at: dueAt })));
  }
  await trx('requests').where({ id: requestId }).update({ current_stage: position, updated_at: now });
  return { stageId: stage.id, approvers, dueAt };
}
