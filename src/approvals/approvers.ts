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

/** What approver rules need to know about each of these people, loaded together. */
export async function requestorFactsMany(db: Knex, userIds: string[]): Promise<Map<string, RequestorFacts>> {
  const ids = [...new Set(userIds)];
  const facts = new Map<string, RequestorFacts>(ids.map((id) => [id, { id, managerId: null, sponsorIds: [] }]));
  if (ids.length === 0) return facts;
  const managers = await db('users as u')
    .join('users as m', 'm.id', 'u.manager_id')
    .whereRaw('u.id = any(?::uuid[])', [ids])
    .whereNull('m.disabled_at')
    .select('u.id', 'm.id as manager_id');
  for (const row of managers) facts.get(row.id)!.managerId = row.manager_id;
  const sponsors = await db('user_sponsors as s')
    .join('users as u', 'u.id', 's.sponsor_id')
    .whereRaw('s.user_id = any(?::uuid[])', [ids])
    .whereNull('u.disabled_at')
    .select('s.user_id', 's.sponsor_id');
  for (const row of sponsors) facts.get(row.user_id)!.sponsorIds.push(row.sponsor_id);
  return facts;
}

export async function requestorFacts(db: Knex, userId: string): Promise<RequestorFacts> {
  return (await requestorFactsMany(db, [userId])).get(userId)!;
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
