import type { Knex } from 'knex';
import type { PolicyApprover } from '../policies/policy.ts';

export interface ResolvedApprover {
  userId: string;
  kind: 'primary' | 'fallback' | 'escalation';
}

interface RequestorFacts {
  id: string;
  managerId: string | null;
  sponsorIds: string[];
}

export async function requestorFacts(db: Knex, userId: string): Promise<RequestorFacts> {
  const user = await db('users').where({ id: userId }).first('id', 'manager_id');
  const sponsors = await db('user_sponsors as s').join('users as u', 'u.id', 's.sponsor_id').where('s.user_id', userId).whereNull('u.disabled_at').pluck('s.sponsor_id');
  let managerId: string | null = user?.manager_id ?? null;
  if (managerId) {
    const manager = await db('users').where({ id: managerId }).whereNull('disabled_at').first('id');
    if (!manager) managerId = null;
  }
  return { id: userId, managerId, sponsorIds: sponsors };
}

/** Active users an approver entry stands for (a group means its members). */
async function usersOf(db: Knex, approvers: PolicyApprover[], requestor: RequestorFacts): Promise<{ ids: string[]; missingPerson: boolean }> {
  const ids: string[] = [];
  let missingPerson = false;
  const groupIds: string[] = [];
  for (const a of approvers) {
    if (a.type === 'manager') {
      if (requestor.managerId) ids.push(requestor.managerId);
      else missingPerson = true;
    } else if (a.type === 'sponsor') {
      if (requestor.sponsorIds.length) ids.push(...requestor.sponsorIds);
      else missingPerson = true;
    } else if (a.type === 'user' && a.userId) {
      ids.push(a.userId);
    } else if (a.type === 'group' && a.groupId) {
      groupIds.push(a.groupId);
    }
  }
  const direct = ids.length ? await db('users').whereIn('id', ids).whereNull('disabled_at').pluck('id') : [];
  const members = groupIds.length
    ? await db('group_members as gm').join('users as u', 'u.id', 'gm.user_id').whereIn('gm.group_id', groupIds).whereNull('u.disabled_at').pluck('gm.user_id')
    : [];
  return { ids: [...new Set([...direct, ...members])], missingPerson };
}

/**
 * Who decides a stage for this requestor. Fallback approvers step in when a manager or sponsor
 * cannot be found, and also when the only approvers left would be the requestor themselves
 * (nobody approves their own request). An empty result means nobody can decide.
 */
export async function resolveStageApprovers(db: Knex, approvers: PolicyApprover[], requestor: RequestorFacts): Promise<ResolvedApprover[]> {
  const primary = await usersOf(db, approvers.filter((a) => a.role === 'primary'), requestor);
  const primaryIds = primary.ids.filter((id) => id !== requestor.id);
  const result: ResolvedApprover[] = primaryIds.map((userId) => ({ userId, kind: 'primary' }));
  if (primary.missingPerson || primaryIds.length === 0) {
    const fallback = await usersOf(db, approvers.filter((a) => a.role === 'fallback'), requestor);
    for (const userId of fallback.ids) {
      if (userId !== requestor.id && !result.some((r) => r.userId === userId)) result.push({ userId, kind: 'fallback' });
    }
  }
  return result;
}

/** The alternates a stage is forwarded to when it escalates (never the requestor). */
export async function resolveEscalationApprovers(db: Knex, approvers: PolicyApprover[], requestor: RequestorFacts): Promise<ResolvedApprover[]> {
  const escalation = await usersOf(db, approvers.filter((a) => a.role === 'escalation'), requestor);
  return escalation.ids.filter((id) => id !== requestor.id).map((userId) => ({ userId, kind: 'escalation' }));
}
