import type { Knex } from 'knex';
import type { Actor } from '../audit/audit.ts';
import type { Notifier } from '../notifications/notifier.ts';
import type { PolicyApprover } from '../policies/policy.ts';
import { requestorFacts, resolveEscalationApprovers } from './approvers.ts';

export const BATCH = 2000;

/** Appends audit entries in one statement (the sweep writes thousands at a time). */
export async function recordAuditMany(trx: Knex, actor: Actor, entries: { action: string; targetType: string; targetId: string; directoryId: string; details?: Record<string, unknown> }[], at: Date): Promise<void> {
  for (let i = 0; i < entries.length; i += 1000) {
    await trx('audit_log').insert(
      entries.slice(i, i + 1000).map((e) => ({
        directory_id: e.directoryId,
        at,
        actor_id: actor.userId,
        actor_label: actor.label,
        action: e.action,
        target_type: e.targetType,
        target_id: e.targetId,
        details: JSON.stringify(e.details ?? {}),
      })),
    );
  }
}

/**
 * Requests whose current stage passed its deadline become Expired, in batches, set-based. Rows
 * are taken FOR UPDATE SKIP LOCKED, so several Portico processes sweeping at once never expire the
 * same request twice, and a request an approver is deciding right now is left to that decision.
 * Returns how many requests expired.
 */
export async function expireDueStages(trx: Knex, now: Date, actor: Actor, notifier: Notifier, options: { requestId?: string; limit?: number } = {}): Promise<number> {
  const q = trx('request_stages as s')
    .join('requests as r', 'r.id', 's.request_id')
    .where('s.state', 'pending')
    .where('s.due_at', '<=', now)
    .where('r.state', 'pendingApproval')
    .orderBy('s.due_at')
    .limit(options.limit ?? BATCH)
    .forUpdate('s', 'r')
    .skipLocked()
    .select('s.id as stage_id', 's.position', 'r.id as request_id', 'r.directory_id');
  if (options.requestId) q.where('r.id', options.requestId);
  const due = await q;
  if (due.length === 0) return 0;
  const stageIds = due.map((d) => d.stage_id);
  const requestIds = due.map((d) => d.request_id);
  await trx('request_stages').whereIn('id', stageIds).update({ state: 'expired' });
  await trx('request_stages').whereIn('request_id', requestIds).where('state', 'waiting').update({ state: 'canceled' });
  await trx('requests').whereIn('id', requestIds).update({ state: 'expired', completed_at: now, updated_at: now });
  const approvers = await trx('request_stage_approvers').whereIn('stage_id', stageIds).select('stage_id', 'user_id');
  await trx('request_stage_approvers').whereIn('stage_id', stageIds).update({ open: false });
  await recordAuditMany(trx, actor, due.map((d) => ({ action: 'request.expired', targetType: 'request', targetId: d.request_id, directoryId: d.directory_id, details: { stage: d.position } })), now);
  await notifier.requestsExpired(
    trx,
    due.map((d) => ({ requestId: d.request_id, stage: d.position, approverIds: approvers.filter((a) => a.stage_id === d.stage_id).map((a) => a.user_id) })),
  );
  return due.length;
}

/**
 * Stages still undecided `escalation_after_days` after they started are forwarded to their alternate
 * approvers, who are notified; the primary approvers can still decide. Returns how many escalated.
 */
export async function escalateDueStages(trx: Knex, now: Date, actor: Actor, notifier: Notifier, options: { limit?: number } = {}): Promise<number> {
  const due = await trx('request_stages as s')
    .join('requests as r', 'r.id', 's.request_id')
    .where('s.state', 'pending')
    .whereNull('s.escalated_at')
    .where('s.escalate_at', '<=', now)
    .where('s.due_at', '>', now)
    .where('r.state', 'pendingApproval')
    .orderBy('s.escalate_at')
    .limit(options.limit ?? BATCH)
    .forUpdate('s', 'r')
    .skipLocked()
    .select('s.id as stage_id', 's.position', 's.due_at', 's.approver_rules', 'r.id as request_id', 'r.directory_id', 'r.target_user_id');
  if (due.length === 0) return 0;
  const forwarded: { requestId: string; stage: number; approverIds: string[]; dueAt: Date }[] = [];
  for (const d of due) {
    const alternates = await resolveEscalationApprovers(trx, d.approver_rules as PolicyApprover[], await requestorFacts(trx, d.target_user_id));
    if (alternates.length) {
      await trx('request_stage_approvers')
        .insert(alternates.map((a) => ({ stage_id: d.stage_id, user_id: a.userId, kind: 'escalation', open: true })))
        .onConflict(['stage_id', 'user_id'])
        .ignore();
    }
    forwarded.push({ requestId: d.request_id, stage: d.position, approverIds: alternates.map((a) => a.userId), dueAt: new Date(d.due_at) });
  }
  await trx('request_stages').whereIn('id', due.map((d) => d.stage_id)).update({ escalated_at: now });
  const names = new Map((await trx('users').whereIn('id', forwarded.flatMap((f) => f.approverIds)).select('id', 'display_name')).map((u) => [u.id, u.display_name]));
  await recordAuditMany(
    trx,
    actor,
    due.map((d, i) => ({
      action: 'request.escalated',
      targetType: 'request',
      targetId: d.request_id,
      directoryId: d.directory_id,
      details: { stage: d.position, approverNames: forwarded[i].approverIds.map((id) => names.get(id)).join(', ') || 'no alternate approver could be found' },
    })),
    now,
  );
  await notifier.requestsForwarded(trx, forwarded.filter((f) => f.approverIds.length > 0));
  return due.length;
}
