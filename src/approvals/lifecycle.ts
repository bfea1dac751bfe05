import type { Knex } from 'knex';
import { recordAuditMany, type Actor } from '../audit/audit.ts';
import type { Notifier } from '../notifications/notifier.ts';
import type { PolicyApprover } from '../policies/policy.ts';
import { groupBy } from '../shared/collections.ts';
import { requestorFactsMany, resolveEscalationApprovers } from './approvers.ts';

/** Rows a sweep step takes per transaction. */
export const BATCH = 5000;

/** Whether this request waits on a stage whose deadline has passed (read without locks, to skip a transaction when not). */
export async function hasOverdueStage(db: Knex, requestId: string, now: Date): Promise<boolean> {
  const row = await db('request_stages as s')
    .join('requests as r', 'r.id', 's.request_id')
    .where('r.id', requestId)
    .whereRaw("s.state = 'pending' and r.state = 'pendingApproval'")
    .where('s.due_at', '<=', now)
    .first(db.raw('1 as one'));
  return Boolean(row);
}

/** A stage the sweep took, with its request. */
interface ClaimedStage {
  stage_id: string;
  position: number;
  due_at: Date;
  approver_rules: unknown;
  request_id: string;
  directory_id: string;
  target_user_id: string;
}

/**
 * Takes the first `limit` stages of `stages` (a query on `request_stages as s`, in the order of
 * an index it walks) with their requests, both locked. The requests are locked first, FOR UPDATE
 * SKIP LOCKED, then their stages, as an approver deciding or a requestor canceling locks them: a
 * request someone is changing right now is left to them without the sweep holding its stage,
 * two sweeps never take the same stage, and the sweep never waits for a lock. Stages left so are
 * passed over and the next due taken in their place, so that a batch comes back short only when
 * nothing more is due (the sweep then stops the step). The stages are read alone, from their
 * own index, so a batch reads only stages that are due: joined to their requests in one
 * statement, every due stage and every pending request were read, hashed and sorted for every
 * batch (0.35 s a batch at five times entra).
 */
async function claimStages(trx: Knex, stages: Knex.QueryBuilder, limit: number): Promise<ClaimedStage[]> {
  const claimed: ClaimedStage[] = [];
  const seen: string[] = [];
  while (claimed.length < limit) {
    const wanted = limit - claimed.length;
    const candidates = stages.clone();
    if (seen.length) candidates.whereRaw('s.id <> all(?::uuid[])', [seen]);
    const found: { stage_id: string; request_id: string }[] = await candidates.limit(wanted).select('s.id as stage_id', 's.request_id');
    if (found.length === 0) break;
    seen.push(...found.map((f) => f.stage_id));
    const requests = new Map<string, { directory_id: string; target_user_id: string }>(
      (
        await trx('requests')
          .whereRaw('id = any(?::uuid[])', [found.map((f) => f.request_id)])
          .whereRaw("state = 'pendingApproval'")
          .forUpdate()
          .skipLocked()
          .select('id', 'directory_id', 'target_user_id')
      ).map((r: { id: string; directory_id: string; target_user_id: string }) => [r.id, r]),
    );
    const ours = found.filter((f) => requests.has(f.request_id)).map((f) => f.stage_id);
    if (ours.length) {
      // Locked, the stages are read again as they are now: still due, and not claimed meanwhile.
      const locked: Omit<ClaimedStage, 'directory_id' | 'target_user_id'>[] = await stages
        .clone()
        .clearOrder()
        .whereRaw('s.id = any(?::uuid[])', [ours])
        .forUpdate()
        .skipLocked()
        .select('s.id as stage_id', 's.position', 's.due_at', 's.approver_rules', 's.request_id');
      for (const stage of locked) claimed.push({ ...stage, ...requests.get(stage.request_id)! });
    }
    if (found.length < wanted) break;
  }
  return claimed;
}

/**
 * Requests whose current stage passed its deadline become Expired, in batches, set-based (see
 * claimStages), so several Portico processes sweeping at once never expire the same request twice,
 * and a request an approver is deciding right now is left to that decision. Returns how many
 * requests expired.
 */
export async function expireDueStages(trx: Knex, now: Date, actor: Actor, notifier: Notifier, options: { requestId?: string; limit?: number } = {}): Promise<number> {
  const stages = trx('request_stages as s').whereRaw("s.state = 'pending'").where('s.due_at', '<=', now).orderBy('s.due_at');
  if (options.requestId) stages.where('s.request_id', options.requestId);
  const due = await claimStages(trx, stages, options.limit ?? BATCH);
  if (due.length === 0) return 0;
  const stageIds = due.map((d) => d.stage_id);
  const requestIds = due.map((d) => d.request_id);
  await trx('request_stages').whereRaw('id = any(?::uuid[])', [stageIds]).update({ state: 'expired' });
  await trx('request_stages').whereRaw('request_id = any(?::uuid[])', [requestIds]).where('state', 'waiting').update({ state: 'canceled' });
  await trx('requests').whereRaw('id = any(?::uuid[])', [requestIds]).update({ state: 'expired', completed_at: now, updated_at: now });
  const approvers = groupBy(
    (await trx('request_stage_approvers').whereRaw('stage_id = any(?::uuid[])', [stageIds]).update({ open: false }).returning(['stage_id', 'user_id'])) as { stage_id: string; user_id: string }[],
    (a) => a.stage_id,
  );
  await recordAuditMany(trx, actor, due.map((d) => ({ action: 'request.expired', targetType: 'request', targetId: d.request_id, directoryId: d.directory_id, details: { stage: d.position } })), now);
  await notifier.requestsExpired(
    trx,
    due.map((d) => ({ requestId: d.request_id, stage: d.position, approverIds: (approvers.get(d.stage_id) ?? []).map((a) => a.user_id) })),
  );
  return due.length;
}

/**
 * Undecided stages, before their deadline, whose `time` (to escalate, to remind) has come and that
 * were not yet escalated or reminded (`done`), soonest first, with their requests (claimStages).
 */
function claimUndecidedStages(trx: Knex, time: 'escalate_at' | 'remind_at', done: 'escalated_at' | 'reminded_at', now: Date, limit: number): Promise<ClaimedStage[]> {
  const stages = trx('request_stages as s')
    .whereRaw(`s.state = 'pending' and s.${done} is null`)
    .where(`s.${time}`, '<=', now)
    .where('s.due_at', '>', now)
    .orderBy(`s.${time}`);
  return claimStages(trx, stages, limit);
}

/**
 * Stages still undecided `escalation_after_days` after they started are forwarded to their alternate
 * approvers, who are notified; the primary approvers can still decide. Returns how many escalated.
 */
export async function escalateDueStages(trx: Knex, now: Date, actor: Actor, notifier: Notifier, options: { limit?: number } = {}): Promise<number> {
  const due = await claimUndecidedStages(trx, 'escalate_at', 'escalated_at', now, options.limit ?? BATCH);
  if (due.length === 0) return 0;
  const facts = await requestorFactsMany(trx, due.map((d) => d.target_user_id));
  const forwarded: { requestId: string; stage: number; approverIds: string[]; dueAt: Date }[] = [];
  const rows: { stage_id: string; user_id: string; kind: 'escalation'; open: boolean; due_at: Date }[] = [];
  for (const d of due) {
    const alternates = await resolveEscalationApprovers(trx, d.approver_rules as PolicyApprover[], facts.get(d.target_user_id)!);
    for (const a of alternates) rows.push({ stage_id: d.stage_id, user_id: a.userId, kind: 'escalation', open: true, due_at: d.due_at });
    forwarded.push({ requestId: d.request_id, stage: d.position, approverIds: alternates.map((a) => a.userId), dueAt: new Date(d.due_at) });
  }
  // Alternates who already approve the stage keep their row and are neither told nor listed as forwarded to.
  const added = new Set<string>();
  for (let i = 0; i < rows.length; i += 1000) {
    const inserted: { stage_id: string; user_id: string }[] = await trx('request_stage_approvers').insert(rows.slice(i, i + 1000)).onConflict(['stage_id', 'user_id']).ignore().returning(['stage_id', 'user_id']);
    for (const r of inserted) added.add(`${r.stage_id}:${r.user_id}`);
  }
  const found = forwarded.map((f) => f.approverIds.length);
  due.forEach((d, i) => (forwarded[i].approverIds = forwarded[i].approverIds.filter((id) => added.has(`${d.stage_id}:${id}`))));
  await trx('request_stages').whereRaw('id = any(?::uuid[])', [due.map((d) => d.stage_id)]).update({ escalated_at: now });
  const names = new Map((await trx('users').whereRaw('id = any(?::uuid[])', [[...new Set(rows.map((r) => r.user_id))]]).select('id', 'display_name')).map((u) => [u.id, u.display_name]));
  await recordAuditMany(
    trx,
    actor,
    due.map((d, i) => ({
      action: 'request.escalated',
      targetType: 'request',
      targetId: d.request_id,
      directoryId: d.directory_id,
      details: {
        stage: d.position,
        approverNames: forwarded[i].approverIds.map((id) => names.get(id)).join(', ')
          || (found[i] > 0 ? 'its alternate approvers were already approvers of this stage' : 'no alternate approver could be found'),
      },
    })),
    now,
  );
  await notifier.requestsForwarded(trx, forwarded.filter((f) => f.approverIds.length > 0));
  // Forwarded to nobody new (no alternate found, or all of them approve it already): its approvers are reminded instead.
  await remindStages(trx, now, notifier, due.filter((_, i) => forwarded[i].approverIds.length === 0));
  return due.length;
}

/**
 * Approvers of a stage still undecided halfway to its deadline are reminded once ("Action required
 * reminder"), unless the stage forwards to alternate approvers (when it finds none to forward to, its
 * approvers are reminded then). Returns how many stages were reminded.
 */
export async function remindApprovers(trx: Knex, now: Date, notifier: Notifier, options: { limit?: number } = {}): Promise<number> {
  const due = await claimUndecidedStages(trx, 'remind_at', 'reminded_at', now, options.limit ?? BATCH);
  await remindStages(trx, now, notifier, due);
  return due.length;
}

/** Reminds the open approvers of these stages (claimed by the caller) and records that they were. */
async function remindStages(trx: Knex, now: Date, notifier: Notifier, stages: { stage_id: string; position: number; due_at: Date; request_id: string }[]): Promise<void> {
  if (stages.length === 0) return;
  const stageIds = stages.map((d) => d.stage_id);
  const approvers = groupBy(
    (await trx('request_stage_approvers').whereRaw('stage_id = any(?::uuid[]) and open', [stageIds]).select('stage_id', 'user_id')) as { stage_id: string; user_id: string }[],
    (a) => a.stage_id,
  );
  await trx('request_stages').whereRaw('id = any(?::uuid[])', [stageIds]).update({ reminded_at: now });
  await notifier.approvalReminders(
    trx,
    stages.map((d) => ({ requestId: d.request_id, stage: d.position, approverIds: (approvers.get(d.stage_id) ?? []).map((a) => a.user_id), dueAt: new Date(d.due_at) })).filter((r) => r.approverIds.length > 0),
  );
}
