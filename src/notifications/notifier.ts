import type { Knex } from 'knex';
import type { Clock } from '../clock.ts';
import { whereIdIn } from '../db/prepared.ts';
import { enqueue, type Message, type Outgoing, type Recipient } from './outbox.ts';

/**
 * What Portico tells people, in the words My Access uses. Every method writes to the outbox inside
 * the caller's transaction, so a message exists exactly when the change that caused it does.
 */
export interface Notifier {
  requestSubmitted(trx: Knex, requestId: string): Promise<void>;
  approvalNeeded(trx: Knex, requestId: string, stage: number, approverIds: string[], dueAt: Date): Promise<void>;
  requestsForwarded(trx: Knex, items: { requestId: string; stage: number; approverIds: string[]; dueAt: Date }[]): Promise<void>;
  /** Approvers of stages still undecided halfway to their deadline. */
  approvalReminders(trx: Knex, items: { requestId: string; stage: number; approverIds: string[]; dueAt: Date }[]): Promise<void>;
  stageDecided(trx: Knex, requestId: string, stage: number, decision: 'approve' | 'deny', deciderId: string, otherApproverIds: string[]): Promise<void>;
  requestDenied(trx: Knex, requestId: string, deciderName: string, justification: string | null): Promise<void>;
  /** Approvers who had a canceled request waiting for them: they need not act any more. */
  requestCanceledForApprovers(trx: Knex, requestId: string, approverIds: string[]): Promise<void>;
  requestsExpired(trx: Knex, items: { requestId: string; stage: number | null; approverIds: string[]; reason?: string }[]): Promise<void>;
  accessGranted(trx: Knex, assignmentIds: string[]): Promise<void>;
  /** Access that starts later (a requested start date): when it starts, accessGranted follows. */
  accessScheduled(trx: Knex, assignmentIds: string[]): Promise<void>;
  /** A request approved (or needing no approval) whose access could not be given, with why. */
  requestNotDelivered(trx: Knex, requestId: string, reason: string): Promise<void>;
  accessEndingSoon(trx: Knex, assignmentIds: string[], daysBefore: 14 | 1): Promise<void>;
  accessEnded(trx: Knex, assignmentIds: string[], reason: string): Promise<void>;
  /** Any message built elsewhere (reviews), to one person. */
  send(trx: Knex, kind: string, userId: string, message: (to: Recipient, links: Links) => Message, dedupeKey?: string): Promise<void>;
  /** The same for many people at once, written in batches (a review that starts asks thousands of managers). */
  sendMany(trx: Knex, kind: string, messages: { userId: string; build: (to: Recipient, links: Links) => Message; dedupeKey?: string }[]): Promise<void>;
}

export interface Links {
  /** An absolute link into the portal through the person's directory hint: BASE_URL/@hint/path. */
  to(path: string): string;
}

const dayFormat = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
const dateTimeFormat = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'long', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: 'UTC', timeZoneName: 'short' });
export const day = (d: Date) => dayFormat.format(d);
export const dayTime = (d: Date) => dateTimeFormat.format(d).replace(', ', ' at ');

interface RequestFacts {
  id: string;
  packageId: string;
  packageName: string;
  policyName: string;
  requestorId: string;
  requestorName: string;
  requestorEmail: string;
  justification: string | null;
  submittedAt: Date;
  requestedStart: Date | null;
  requestedEnd: Date | null;
  stages: number;
  hint: string;
  /** The requestor as a recipient; null once their account is disabled. */
  requestor: Recipient | null;
}

async function requestFacts(trx: Knex, requestId: string): Promise<RequestFacts> {
  return (await requestFactsMany(trx, [requestId])).get(requestId)!;
}

async function requestFactsMany(trx: Knex, requestIds: string[]): Promise<Map<string, RequestFacts>> {
  const rows = await whereIdIn(trx('requests as r'), 'r.id', requestIds)
    .join('access_packages as p', 'p.id', 'r.access_package_id')
    .join('policies as pol', 'pol.id', 'r.policy_id')
    .join('users as u', 'u.id', 'r.target_user_id')
    .join('directories as d', 'd.id', 'r.directory_id')
    .select(
      'r.id', 'p.id as package_id', 'p.name as package_name', 'pol.name as policy_name', 'u.id as requestor_id', 'u.display_name', 'u.email',
      'u.directory_id as requestor_directory_id', 'u.disabled_at as requestor_disabled_at', 'r.justification', 'r.submitted_at', 'r.requested_start', 'r.requested_end', 'd.hint',
      trx.raw('(select count(*) from request_stages s where s.request_id = r.id) as stages'),
    );
  return new Map(rows.map((r) => [r.id, {
    id: r.id,
    packageId: r.package_id,
    packageName: r.package_name,
    policyName: r.policy_name,
    requestorId: r.requestor_id,
    requestorName: r.display_name,
    requestorEmail: r.email,
    justification: r.justification,
    submittedAt: new Date(r.submitted_at),
    requestedStart: r.requested_start ? new Date(r.requested_start) : null,
    requestedEnd: r.requested_end ? new Date(r.requested_end) : null,
    stages: Number(r.stages),
    hint: r.hint,
    requestor: r.requestor_disabled_at ? null : { userId: r.requestor_id, email: r.email, name: r.display_name, directoryId: r.requestor_directory_id },
  }]));
}

async function recipients(trx: Knex, userIds: string[]): Promise<Recipient[]> {
  const rows = await whereIdIn(trx('users'), 'id', [...new Set(userIds)]).whereNull('disabled_at').select('id', 'email', 'display_name', 'directory_id');
  return rows.map((u) => ({ userId: u.id, email: u.email, name: u.display_name, directoryId: u.directory_id }));
}

function requestDetails(f: RequestFacts): [string, string][] {
  const details: [string, string][] = [
    ['Access package', f.packageName],
    ['Requested by', `${f.requestorName} (${f.requestorEmail})`],
    ['Policy', f.policyName],
    ['Submitted', dayTime(f.submittedAt)],
  ];
  if (f.requestedEnd) details.push(['Access period', `${f.requestedStart ? day(f.requestedStart) : 'From approval'} to ${day(f.requestedEnd)}`]);
  details.push(['Business justification', f.justification || 'None given']);
  return details;
}

export function createNotifier(deps: { clock: Clock; baseUrl: string }): Notifier {
  const { clock, baseUrl } = deps;
  const linksFor = (hint: string): Links => ({ to: (path: string) => `${baseUrl}/@${hint}${path}` });

  /**
   * Builds one message per recipient and writes them all in batches. Recipients already read with
   * the facts (`known`; null for a disabled account) are not read again.
   */
  async function write(
    trx: Knex,
    items: { kind: string; userIds: string[]; hint: string; build: (to: Recipient, links: Links) => Message; dedupe?: (to: Recipient) => string }[],
    known: { userId: string; recipient: Recipient | null }[] = [],
  ) {
    const people = new Map(known.map((k) => [k.userId, k.recipient]));
    const unknown = [...new Set(items.flatMap((i) => i.userIds))].filter((id) => !people.has(id));
    if (unknown.length) for (const r of await recipients(trx, unknown)) people.set(r.userId, r);
    const outgoing: Outgoing[] = [];
    for (const item of items) {
      for (const id of new Set(item.userIds)) {
        const to = people.get(id);
        if (to) outgoing.push({ kind: item.kind, to, message: item.build(to, linksFor(item.hint)), dedupeKey: item.dedupe?.(to) });
      }
    }
    await enqueue(trx, outgoing, clock.now());
  }

  interface AssignmentFacts { id: string; userId: string; startsAt: Date; endsAt: Date | null; packageId: string; packageName: string; hint: string; recipient: Recipient | null }
  async function assignmentFacts(trx: Knex, ids: string[]): Promise<AssignmentFacts[]> {
    const rows = await whereIdIn(trx('assignments as a'), 'a.id', ids)
      .join('access_packages as p', 'p.id', 'a.access_package_id')
      .join('directories as d', 'd.id', 'a.directory_id')
      .join('users as u', 'u.id', 'a.user_id')
      .select('a.id', 'a.user_id', 'a.starts_at', 'a.ends_at', 'p.id as package_id', 'p.name as package_name', 'd.hint', 'u.email', 'u.display_name', 'u.directory_id', 'u.disabled_at');
    return rows.map((a) => ({
      id: a.id,
      userId: a.user_id,
      startsAt: new Date(a.starts_at),
      endsAt: a.ends_at ? new Date(a.ends_at) : null,
      packageId: a.package_id,
      packageName: a.package_name,
      hint: a.hint,
      recipient: a.disabled_at ? null : { userId: a.user_id, email: a.email, name: a.display_name, directoryId: a.directory_id },
    }));
  }
  /**
   * "Approve or deny" to a stage's approvers (asked, forwarded to, reminded): the same message frame,
   * the request's details and the link to decide, with each kind's own words. `stageText` is
   * " for stage 2 of 3", or empty for a single stage.
   */
  async function askApprovers(
    trx: Knex,
    kind: string,
    items: { requestId: string; stage: number; approverIds: string[]; dueAt: Date }[],
    words: (f: RequestFacts, stageText: string, dueAt: Date) => { subject: string; paragraphs: string[] },
  ) {
    const facts = await requestFactsMany(trx, items.map((i) => i.requestId));
    await write(trx, items.map(({ requestId, stage, approverIds, dueAt }) => {
      const f = facts.get(requestId)!;
      const { subject, paragraphs } = words(f, f.stages > 1 ? ` for stage ${stage} of ${f.stages}` : '', dueAt);
      return {
        kind, userIds: approverIds, hint: f.hint,
        dedupe: (to: Recipient) => `${kind}:${requestId}:${stage}:${to.userId}`,
        build: (to: Recipient, links: Links) => ({
          subject,
          greeting: `Hello ${to.name},`,
          paragraphs,
          details: requestDetails(f),
          action: { label: 'Approve or deny the request', url: links.to(`/approvals/${f.id}`) },
        }),
      };
    }));
  }

  const holders = (facts: AssignmentFacts[]) => facts.map((a) => ({ userId: a.userId, recipient: a.recipient }));
  const requestors = (facts: RequestFacts[]) => facts.map((f) => ({ userId: f.requestorId, recipient: f.requestor }));

  return {
    async requestSubmitted(trx, requestId) {
      const f = await requestFacts(trx, requestId);
      await write(trx, [{
        kind: 'requestSubmitted', userIds: [f.requestorId], hint: f.hint,
        build: (to, links) => ({
          subject: `Your request for ${f.packageName} was submitted`,
          greeting: `Hello ${to.name},`,
          paragraphs: [`We received your request for access to ${f.packageName}. You can follow it, or cancel it while it is pending approval, in Request history.`],
          details: requestDetails(f),
          action: { label: 'View your request', url: links.to(`/requests/${f.id}`) },
        }),
      }], requestors([f]));
    },

    async approvalNeeded(trx, requestId, stage, approverIds, dueAt) {
      await askApprovers(trx, 'approvalNeeded', [{ requestId, stage, approverIds, dueAt }], (f, stageText, dueAt) => ({
        subject: `Action required: Approve or deny request by ${day(dueAt)}`,
        paragraphs: [
          `${f.requestorName} asked for access to ${f.packageName}, and you are an approver${stageText}.`,
          `Approve or deny the request by ${dayTime(dueAt)}. If nobody decides by then, the request expires.`,
        ],
      }));
    },

    async requestsForwarded(trx, items) {
      await askApprovers(trx, 'requestForwarded', items, (f, stageText, dueAt) => ({
        subject: `Action required: Approve or deny forwarded request by ${day(dueAt)}`,
        paragraphs: [
          `A request from ${f.requestorName} for ${f.packageName} was forwarded to you because its approvers have not decided yet. You are an alternate approver${stageText}.`,
          `Approve or deny it by ${dayTime(dueAt)}. The first approver to decide decides for everyone.`,
        ],
      }));
    },

    async approvalReminders(trx, items) {
      await askApprovers(trx, 'approvalReminder', items, (f, stageText, dueAt) => ({
        subject: `Action required reminder: Approve or deny the request by ${day(dueAt)}`,
        paragraphs: [
          `${f.requestorName}’s request for access to ${f.packageName} is still waiting for a decision, and you are an approver${stageText}.`,
          `Approve or deny the request by ${dayTime(dueAt)}. If nobody decides by then, the request expires.`,
        ],
      }));
    },

    async stageDecided(trx, requestId, stage, decision, deciderId, otherApproverIds) {
      const f = await requestFacts(trx, requestId);
      const others = otherApproverIds.filter((id) => id !== deciderId);
      const found = await recipients(trx, [deciderId, ...others]);
      const decider = found.find((r) => r.userId === deciderId);
      const verb = decision === 'approve' ? 'approved' : 'denied';
      await write(trx, [{
        kind: 'stageDecided', userIds: others, hint: f.hint,
        build: (to, links) => ({
          subject: `Request ${verb}: ${f.packageName} for ${f.requestorName}`,
          greeting: `Hello ${to.name},`,
          paragraphs: [`${decider?.name ?? 'Another approver'} ${verb} the request from ${f.requestorName} for ${f.packageName}${f.stages > 1 ? ` at stage ${stage}` : ''}. You do not need to do anything.`],
          action: { label: 'View the request', url: links.to(`/approvals/${f.id}`) },
        }),
      }], others.map((userId) => ({ userId, recipient: found.find((r) => r.userId === userId) ?? null })));
    },

    async requestDenied(trx, requestId, deciderName, justification) {
      const f = await requestFacts(trx, requestId);
      await write(trx, [{
        kind: 'requestDenied', userIds: [f.requestorId], hint: f.hint,
        build: (to, links) => ({
          subject: `Your request for ${f.packageName} was denied`,
          greeting: `Hello ${to.name},`,
          paragraphs: [
            `${deciderName} denied your request for access to ${f.packageName}.`,
            justification ? `Their reason: ${justification}` : 'They gave no reason.',
            'If you still need access, you can resubmit the request from Request history.',
          ],
          action: { label: 'View your request', url: links.to(`/requests/${f.id}`) },
        }),
      }], requestors([f]));
    },

    async requestCanceledForApprovers(trx, requestId, approverIds) {
      if (approverIds.length === 0) return;
      const f = await requestFacts(trx, requestId);
      await write(trx, [{
        kind: 'requestCanceledApprover', userIds: approverIds, hint: f.hint,
        dedupe: (to) => `requestCanceled:${requestId}:${to.userId}`,
        build: (to, links) => ({
          subject: `Request canceled: ${f.packageName} for ${f.requestorName}`,
          greeting: `Hello ${to.name},`,
          paragraphs: [`The request from ${f.requestorName} for ${f.packageName} was canceled. You no longer need to approve or deny it.`],
          action: { label: 'View the request', url: links.to(`/approvals/${f.id}`) },
        }),
      }]);
    },

    async requestsExpired(trx, items) {
      const facts = await requestFactsMany(trx, items.map((i) => i.requestId));
      await write(trx, items.flatMap(({ requestId, stage, approverIds, reason }) => {
        const f = facts.get(requestId)!;
        const stageText = f.stages > 1 && stage ? ` stage ${stage} of` : '';
        return [
          {
            kind: 'requestExpired', userIds: [f.requestorId], hint: f.hint,
            dedupe: (to: Recipient) => `requestExpired:${requestId}:${to.userId}`,
            build: (to: Recipient, links: Links) => ({
              subject: `Your request for ${f.packageName} has expired`,
              greeting: `Hello ${to.name},`,
              paragraphs: [
                reason ?? `Nobody approved or denied${stageText} your request for ${f.packageName} in time, so it has expired.`,
                'If you still need access, you can resubmit the request from Request history.',
              ],
              action: { label: 'Resubmit your request', url: links.to(`/requests/${f.id}`) },
            }),
          },
          {
            kind: 'requestExpiredApprover', userIds: approverIds, hint: f.hint,
            dedupe: (to: Recipient) => `requestExpired:${requestId}:${to.userId}`,
            build: (to: Recipient, links: Links) => ({
              subject: `Request has expired: ${f.packageName} for ${f.requestorName}`,
              greeting: `Hello ${to.name},`,
              paragraphs: [`The request from ${f.requestorName} for ${f.packageName} expired because nobody decided in time. You no longer need to act on it.`],
              action: { label: 'View the request', url: links.to(`/approvals/${f.id}`) },
            }),
          },
        ];
      }), requestors([...facts.values()]));
    },

    async accessGranted(trx, assignmentIds) {
      const facts = await assignmentFacts(trx, assignmentIds);
      await write(trx, facts.map((a) => ({
        kind: 'accessGranted', userIds: [a.userId], hint: a.hint,
        dedupe: () => `accessGranted:${a.id}`,
        build: (to: Recipient, links: Links) => ({
          subject: `You now have access to ${a.packageName}`,
          greeting: `Hello ${to.name},`,
          paragraphs: [`You now have access to ${a.packageName}${a.endsAt ? ` until ${day(a.endsAt)}` : ''}.`],
          action: { label: 'See your access', url: links.to('/access-packages/active') },
        }),
      })), holders(facts));
    },

    async accessScheduled(trx, assignmentIds) {
      const facts = await assignmentFacts(trx, assignmentIds);
      await write(trx, facts.map((a) => ({
        kind: 'accessScheduled', userIds: [a.userId], hint: a.hint,
        dedupe: () => `accessScheduled:${a.id}`,
        build: (to: Recipient, links: Links) => ({
          subject: `Your access to ${a.packageName} starts on ${day(a.startsAt)}`,
          greeting: `Hello ${to.name},`,
          paragraphs: [
            `Your request for ${a.packageName} is complete: your access starts on ${dayTime(a.startsAt)}${a.endsAt ? ` and ends on ${dayTime(a.endsAt)}` : ''}.`,
            'We will tell you when it starts.',
          ],
          action: { label: 'See your access', url: links.to('/access-packages/active') },
        }),
      })), holders(facts));
    },

    async requestNotDelivered(trx, requestId, reason) {
      const f = await requestFacts(trx, requestId);
      await write(trx, [{
        kind: 'requestNotDelivered', userIds: [f.requestorId], hint: f.hint,
        dedupe: (to) => `requestNotDelivered:${requestId}:${to.userId}`,
        build: (to, links) => ({
          subject: `Your request for ${f.packageName} could not be completed`,
          greeting: `Hello ${to.name},`,
          paragraphs: [`Your request for access to ${f.packageName} could not be completed: ${reason}.`, 'If you still need access, you can request the access package again.'],
          details: requestDetails(f),
          action: { label: 'View your request', url: links.to(`/requests/${f.id}`) },
        }),
      }], requestors([f]));
    },

    async accessEndingSoon(trx, assignmentIds, daysBefore) {
      const facts = (await assignmentFacts(trx, assignmentIds)).filter((a) => a.endsAt);
      await write(trx, facts.map((a) => ({
        kind: 'accessEndingSoon', userIds: [a.userId], hint: a.hint,
        dedupe: () => `accessEndingSoon:${daysBefore}:${a.id}:${Math.floor(a.endsAt!.getTime() / 1000)}`,
        build: (to: Recipient, links: Links) => ({
          subject: `Your access to ${a.packageName} ends on ${day(a.endsAt!)}`,
          greeting: `Hello ${to.name},`,
          // Access held cannot be requested again while it lasts (there is no extension request yet).
          paragraphs: [
            `Your access to ${a.packageName} ends on ${dayTime(a.endsAt!)}.`,
            'If you will still need it after then, ask an administrator or the owner of its catalog to assign it to you again, or request the access package again once your access has ended.',
          ],
          action: { label: 'See your access', url: links.to('/access-packages/active') },
        }),
      })), holders(facts));
    },

    async accessEnded(trx, assignmentIds, reason) {
      const facts = await assignmentFacts(trx, assignmentIds);
      await write(trx, facts.map((a) => ({
        kind: 'accessEnded', userIds: [a.userId], hint: a.hint,
        dedupe: () => `accessEnded:${a.id}`,
        build: (to: Recipient, links: Links) => ({
          subject: `Access has ended for ${a.packageName}`,
          greeting: `Hello ${to.name},`,
          paragraphs: [`Your access to ${a.packageName} has ended: ${reason}`, 'If you need it again, you can request the access package.'],
          action: { label: `Request ${a.packageName}`, url: links.to(`/access-packages/${a.packageId}`) },
        }),
      })), holders(facts));
    },

    async send(trx, kind, userId, build, dedupeKey) {
      const [to] = await recipients(trx, [userId]);
      if (!to) return;
      const hint = (await trx('directories').where({ id: to.directoryId }).first('hint')).hint as string;
      await write(trx, [{ kind, userIds: [userId], hint, build, dedupe: dedupeKey ? () => dedupeKey : undefined }], [{ userId, recipient: to }]);
    },

    async sendMany(trx, kind, messages) {
      if (messages.length === 0) return;
      const people = new Map((await recipients(trx, messages.map((m) => m.userId))).map((r) => [r.userId, r]));
      const directoryIds = [...new Set([...people.values()].map((p) => p.directoryId))];
      const hints = new Map((await trx('directories').whereIn('id', directoryIds).select('id', 'hint')).map((d) => [d.id as string, d.hint as string]));
      await write(
        trx,
        messages.flatMap((m) => {
          const to = people.get(m.userId);
          if (!to) return [];
          return [{ kind, userIds: [m.userId], hint: hints.get(to.directoryId)!, build: m.build, dedupe: m.dedupeKey ? () => m.dedupeKey! : undefined }];
        }),
        [...people.values()].map((recipient) => ({ userId: recipient.userId, recipient })),
      );
    },
  };
}
