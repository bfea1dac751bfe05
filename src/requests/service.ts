import type { Knex } from 'knex';
import { heldBefore, packageDetails, liveAssignmentOf, managesCatalog, type AssignmentListItem, type PackageDetails } from '../access-packages/data.ts';
import { previewApprovers, createRequestStages, startStage } from '../approvals/stages.ts';
import { deliverRequest } from './delivery.ts';
import { isLiveAssignmentTaken } from '../assignments/delivery.ts';
import { recordAudit, type Actor } from '../audit/audit.ts';
import type { CurrentUser } from '../auth/current-user.ts';
import type { Clock } from '../clock.ts';
import { conflict, FieldErrors, notFound, ValidationFailed } from '../errors.ts';
import { requestablePolicies, type Requestor } from '../policies/data.ts';
import { needsApproval, policyEnd, type Policy, type Question } from '../policies/policy.ts';
import { toPage, serializeKey, type Page, type PageRequest } from '../shared/keyset.ts';
import type { Notifier } from '../notifications/notifier.ts';
import {
  incompatibleHoldings,
  insertRequest,
  openRequestFor,
  requestDetails,
  requestHistory,
  submitChecks,
  requestTimeline,
  transitionRequest,
  type Answer,
  type AttributeValue,
  type RequestDetails,
  type RequestSummary,
} from './data.ts';
import { canCancel, canResubmit, type RequestState } from './states.ts';
import { describeTimeline } from './timeline.ts';
import { matchesPattern } from '../shared/pattern.ts';

export const LIMITS = { shortText: 400, longText: 4000, justification: 2000, attribute: 400 };
const HISTORY_PAGE_SIZE = 20;

/** The request form as sent, before any rule is applied. Field values are strings as typed. */
export interface RequestInput {
  policyId: string;
  /** The policy's `updatedAt` when the form was drawn: a policy changed meanwhile must be re-checked by the person. */
  policyVersion: string;
  answers: string[];
  attributes: string[];
  justification: string;
  specificPeriod: string;
  startDate: string;
  endDate: string;
  submissionKey: string;
  resubmitOf: string;
}

export const emptyRequestInput = (): RequestInput => ({
  policyId: '',
  policyVersion: '',
  answers: [],
  attributes: [],
  justification: '',
  specificPeriod: 'no',
  startDate: '',
  endDate: '',
  submissionKey: '',
  resubmitOf: '',
});

export interface RequestFormModel {
  pkg: PackageDetails;
  policies: Policy[];
  /** The policy the form is drawn for; absent while the person still has to choose one. */
  policy: Policy | null;
  /** The person's current attribute values (for pre-filling requestor information). */
  userAttributes: Record<string, string>;
  values: RequestInput;
  /** Messages about a resubmission: the earlier policy changed or no longer applies. */
  notices: string[];
  /** Why the person cannot request the package at all (separation of duties): no form is shown. */
  blockers: string[];
  /** Access the person has to it already, or their open request for it: said instead of the form. */
  assignment: AssignmentListItem | null;
  openRequest: { id: string; state: RequestState } | null;
  resubmitOf: RequestDetails | null;
}

const requestorOf = (user: CurrentUser): Requestor => ({ id: user.id, directoryId: user.directory.id, type: user.type });

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A calendar date typed as YYYY-MM-DD, or null when it is not a real date. */
export function parseDate(value: string): Date | null {
  const m = DATE_RE.exec(value);
  if (!m) return null;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.getUTCFullYear() === Number(m[1]) && d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]) ? d : null;
}

export const startOfDay = (d: Date) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
export const endOfDay = (d: Date) => new Date(startOfDay(d).getTime() + 24 * 3600_000 - 1000);
const quoted = (text: string) => `“${text}”`;

function lowerFirst(s: string): string {
  return s ? s[0].toLowerCase() + s.slice(1) : s;
}

function checkAnswer(q: Question, answer: string, field: string, errors: FieldErrors): void {
  const max = q.type === 'longText' ? LIMITS.longText : LIMITS.shortText;
  if (!answer) {
    if (q.required) errors.add(field, q.type === 'multipleChoice' ? `Choose an answer to ${quoted(q.text)}` : `Answer ${quoted(q.text)}`);
    return;
  }
  if (answer.length > max) {
    errors.add(field, `Your answer to ${quoted(q.text)} must be ${max.toLocaleString('en-GB')} characters or fewer`);
    return;
  }
  if (q.type === 'multipleChoice' && !(q.choices ?? []).includes(answer)) {
    errors.add(field, `Choose one of the answers offered for ${quoted(q.text)}`);
    return;
  }
  if (q.pattern) {
    const matches = matchesPattern(q.pattern, answer);
    if (matches === 'tooSlow') {
      errors.add(field, `Your answer to ${quoted(q.text)} could not be checked against the format asked for: try a shorter answer, or ask the owner of this access package to simplify the question`);
    } else if (!matches) {
      errors.add(field, q.patternHint ? `Your answer to ${quoted(q.text)} must be ${lowerFirst(q.patternHint)}` : `Your answer to ${quoted(q.text)} is not in the format asked for`);
    }
  }
}

/** Why this person cannot request the package: a package they have or have asked for is incompatible with it. */
function separationOfDuties(packageName: string, conflict: { name: string; kind: 'assignment' | 'request' }): string {
  return conflict.kind === 'assignment'
    ? `You cannot request ${packageName} because you have ${conflict.name}. The two are incompatible (separation of duties).`
    : `You cannot request ${packageName} because you have a pending request for ${conflict.name}. The two are incompatible (separation of duties).`;
}

export function createRequestService(deps: { db: Knex; clock: Clock; notifier: Notifier }) {
  const { db, clock, notifier } = deps;

  /**
   * The package as its pane shows it to this person, or 404 when they may neither request it, nor
   * hold it or have held it (the Expired tab links to it), nor manage it.
   */
  async function visiblePackage(user: CurrentUser, packageId: string, now: Date) {
    const pkg = await packageDetails(db, user.directory.id, packageId);
    const policies = pkg ? await requestablePolicies(db, requestorOf(user), packageId, now) : [];
    const assignment = pkg ? await liveAssignmentOf(db, user.id, packageId) : null;
    const [openRequest] = pkg ? await openRequestFor(db, user.id, [packageId]) : [];
    const manages = pkg ? await managesCatalog(db, user, pkg.catalogId) : false;
    const held = pkg && !assignment ? await heldBefore(db, user.id, packageId) : false;
    if (!pkg || (policies.length === 0 && !assignment && !openRequest && !manages && !held)) {
      throw notFound(
        'This access package is unavailable',
        'You cannot request this access package. It may have been removed, or none of its policies lets you request it. If someone sent you this link, ask them to check that you are allowed to request it.',
      );
    }
    // Said before anything is filled in, not only when the form is submitted.
    const conflicts = pkg && policies.length && !assignment && !openRequest ? await incompatibleHoldings(db, user.id, packageId) : [];
    return { pkg, policies, assignment, openRequest: openRequest ?? null, manages, held, blockers: conflicts.map((c) => separationOfDuties(pkg.name, c)) };
  }

  async function ownRequest(user: CurrentUser, requestId: string): Promise<RequestDetails> {
    const details = await requestDetails(db, requestId);
    // Someone else's request is reported exactly like one that does not exist.
    if (!details || details.targetUserId !== user.id || details.directoryId !== user.directory.id) {
      throw notFound('Request not found', 'There is no request at this address in your request history.');
    }
    return details;
  }

  async function userAttributes(userId: string): Promise<Record<string, string>> {
    const row = await db('users').where({ id: userId }).first('attributes');
    return (row?.attributes as Record<string, string>) ?? {};
  }

  return {
    visiblePackage: (user: CurrentUser, packageId: string) => visiblePackage(user, packageId, clock.now()),

    /** What the request form shows: the policies to choose from, the chosen one, and values to pre-fill. */
    async requestForm(user: CurrentUser, packageId: string, options: { policyId?: string; choosePolicy?: boolean; resubmitOf?: string; values?: RequestInput }): Promise<RequestFormModel> {
      const now = clock.now();
      const { pkg, policies, blockers, assignment, openRequest } = await visiblePackage(user, packageId, now);
      const notices: string[] = [];
      let values = options.values ?? emptyRequestInput();
      let resubmitOf: RequestDetails | null = null;
      let policyId = options.policyId ?? values.policyId;

      if (options.resubmitOf) {
        resubmitOf = await ownRequest(user, options.resubmitOf);
        if (resubmitOf.accessPackageId !== packageId || !canResubmit(resubmitOf.state)) throw notFound('Request not found', 'This request cannot be resubmitted.');
        const earlier = policies.find((p) => p.id === resubmitOf!.policyId);
        if (!options.values) {
          // The policy chosen on the form wins; "Change" asks again; otherwise the earlier one, while it applies.
          const chosen = options.policyId ? policies.find((p) => p.id === options.policyId) : options.choosePolicy ? undefined : earlier;
          values = prefillFrom(resubmitOf, chosen ?? earlier ?? null);
          policyId = chosen ? chosen.id : '';
        }
        if (!earlier) {
          notices.push(
            policies.length
              ? `The policy you used before, ${quoted(resubmitOf.policyName)}, no longer lets you request this access package. Choose another policy.`
              : `The policy you used before, ${quoted(resubmitOf.policyName)}, no longer lets you request this access package.`,
          );
        } else if (earlier.updatedAt > resubmitOf.submittedAt) {
          notices.push(`The policy ${quoted(earlier.name)} has changed since your earlier request. Check your answers before you submit.`);
        }
      }
      if (policies.length === 1) policyId = policies[0].id;
      const policy = policies.find((p) => p.id === policyId) ?? null;
      if (policy && !values.policyVersion) values = { ...values, policyId: policy.id, policyVersion: policy.updatedAt.toISOString() };
      return { pkg, policies, policy, userAttributes: await userAttributes(user.id), values, notices, blockers, assignment, openRequest, resubmitOf };
    },

    /**
     * Submits a request under every rule, in one transaction that holds the person's row, so two
     * submits (a double click, a second tab) are decided one after the other.
     */
    async submit(user: CurrentUser, packageId: string, input: RequestInput, actor: Actor): Promise<{ requestId: string; duplicate: boolean }> {
      return db.transaction(async (trx) => {
        const now = clock.now();
        const me = await trx('users').where({ id: user.id }).whereNull('disabled_at').forUpdate().first('id', 'attributes', 'directory_id');
        if (!me) throw notFound();
        const checks = await submitChecks(trx, user.id, user.directory.id, packageId, input.submissionKey || null);
        if (checks.existingRequestId) return { requestId: checks.existingRequestId, duplicate: true };
        const name = checks.packageName;
        if (name === null) throw notFound('This access package is unavailable', 'The access package you asked for does not exist or is not available to you.');
        const policies = await requestablePolicies(trx, requestorOf(user), packageId, now);
        const errors = new FieldErrors();

        let resubmits: RequestDetails | null = null;
        if (input.resubmitOf) {
          const earlier = await requestDetails(trx, input.resubmitOf);
          if (!earlier || earlier.targetUserId !== user.id || earlier.accessPackageId !== packageId) throw notFound('Request not found', 'The request you are resubmitting does not exist.');
          if (!canResubmit(earlier.state)) throw conflict('This request cannot be resubmitted', 'Only denied or expired requests can be resubmitted.');
          resubmits = earlier;
        }

        const policy = policies.find((p) => p.id === input.policyId);
        if (!policy) {
          if (policies.length === 0) throw notFound('This access package is unavailable', 'None of this access package’s policies lets you request it.');
          errors.add('policy', policies.length > 1 ? 'Select a policy' : 'The policy you chose does not take requests from you. Select a policy.');
          throw new ValidationFailed(errors.toArray());
        }
        if (input.policyVersion && input.policyVersion !== policy.updatedAt.toISOString()) {
          errors.add('policy', `The policy ${quoted(policy.name)} changed while you were filling in the form. Check your answers and submit again.`, '#request-form');
          throw new ValidationFailed(errors.toArray());
        }

        // Whole-request rules, shown at the top of the form.
        const { live } = checks;
        if (live) {
          errors.add('request', live.endsAt ? `You already have access to ${name} until ${formatDay(live.endsAt)}` : `You already have access to ${name}, with no end date`, '#request-form');
        }
        if (checks.openRequestId) errors.add('request', `You already have a request for ${name} that is pending approval. You can view or cancel it in Request history.`, '#request-form');
        for (const c of checks.incompatible) errors.add(`request-${c.id}`, separationOfDuties(name, c), '#request-form');

        // Questions.
        const answers: Answer[] = policy.questions.map((q, i) => {
          const answer = (input.answers[i] ?? '').trim();
          checkAnswer(q, answer, `answer-${i}`, errors);
          return { key: q.key, text: q.text, answer };
        });

        // Requestor information: non-editable values already set are kept whatever the form says.
        const current = (me.attributes ?? {}) as Record<string, string>;
        const attributes: AttributeValue[] = policy.requestorAttributes.map((a, i) => {
          const field = `attribute-${i}`;
          const stored = current[a.attribute] ?? '';
          if (!a.editable && stored) return { attribute: a.attribute, label: a.label, value: stored };
          const value = (input.attributes[i] ?? '').trim();
          if (!value && a.required) errors.add(field, `Enter your ${lowerFirst(a.label)}`);
          else if (value.length > LIMITS.attribute) errors.add(field, `${a.label} must be ${LIMITS.attribute} characters or fewer`);
          return { attribute: a.attribute, label: a.label, value };
        });

        const justification = input.justification.trim();
        if (policy.requireJustification && !justification) errors.add('justification', 'Enter a business justification');
        else if (justification.length > LIMITS.justification) errors.add('justification', `Business justification must be ${LIMITS.justification.toLocaleString('en-GB')} characters or fewer`);

        // Request for specific period?
        let requestedStart: Date | null = null;
        let requestedEnd: Date | null = null;
        const wantsPeriod = policy.allowCustomPeriod && input.specificPeriod === 'yes';
        if (policy.allowCustomPeriod && input.specificPeriod !== 'yes' && input.specificPeriod !== 'no' && input.specificPeriod !== '') {
          errors.add('specificPeriod', 'Select whether you need access for a specific period');
        }
        if (wantsPeriod) {
          const today = startOfDay(now);
          const start = input.startDate ? parseDate(input.startDate) : null;
          const end = input.endDate ? parseDate(input.endDate) : null;
          if (!input.startDate) errors.add('startDate', 'Enter a start date');
          else if (!start) errors.add('startDate', 'Start date must be a real date, like 2027-01-31');
          else if (start < today) errors.add('startDate', 'Start date must be today or in the future');
          if (!input.endDate) errors.add('endDate', 'Enter an end date');
          else if (!end) errors.add('endDate', 'End date must be a real date, like 2027-01-31');
          else if (start && end < start) errors.add('endDate', 'End date must be the same as or after the start date');
          if (start && end && start >= today && end >= start) {
            requestedStart = start.getTime() === today.getTime() ? null : start;
            requestedEnd = endOfDay(end);
            const effectiveStart = requestedStart ?? now;
            const latest = policyEnd(policy.expiration, effectiveStart);
            if (latest) {
              // People choose whole days: the last they may choose is the day the policy's limit falls
              // on (as the form's hint says), and access that day ends at the limit.
              const lastDay = startOfDay(latest);
              if (startOfDay(end) > lastDay) errors.add('endDate', `End date must be no later than ${formatDay(lastDay)}, the most this policy allows`);
              else if (requestedEnd > latest) requestedEnd = latest;
            }
            if (requestedEnd <= effectiveStart) errors.add('endDate', 'End date must be after the start date');
          }
        }
        if (!wantsPeriod && policy.expiration.kind === 'onDate' && policy.expiration.date <= now) {
          errors.add('policy', `The policy ${quoted(policy.name)} gave access until ${formatDay(policy.expiration.date)}; it cannot be requested any more`, '#request-form');
        }

        // Somebody must be able to decide each stage.
        if (needsApproval(policy) && !errors.any) {
          const stages = await previewApprovers(trx, policy, user.id);
          const empty = stages.findIndex((s) => s.length === 0);
          if (empty >= 0) {
            errors.add(
              'request',
              `Nobody can approve this request: stage ${empty + 1} of the policy ${quoted(policy.name)} has no approver other than you (for example, no manager is recorded for you). Ask an administrator to fix the policy or your details.`,
              '#request-form',
            );
          }
        }
        errors.throwIfAny();

        // Everything holds: save the person's details, the request, and what follows from it.
        const newAttributes = { ...current };
        for (const a of attributes) if (a.value) newAttributes[a.attribute] = a.value;
        if (JSON.stringify(newAttributes) !== JSON.stringify(current)) {
          await trx('users').where({ id: user.id }).update({ attributes: JSON.stringify(newAttributes), updated_at: now });
        }
        let requestId: string;
        try {
          requestId = await insertRequest(trx, {
            directoryId: user.directory.id,
            accessPackageId: packageId,
            policyId: policy.id,
            targetUserId: user.id,
            requestedById: user.id,
            type: 'userAdd',
            state: needsApproval(policy) ? 'pendingApproval' : 'delivering',
            justification: justification || null,
            answers: answers.filter((a) => a.answer !== ''),
            requestorAttributes: attributes.filter((a) => a.value !== ''),
            requestedStart,
            requestedEnd,
            expiration: policy.expiration,
            resubmitsRequestId: resubmits?.id ?? null,
            submissionKey: input.submissionKey || null,
            currentStage: null,
            submittedAt: now,
          });
        } catch (err) {
          if ((err as { code?: string }).code === '23505') throw conflict('You already have a request for this access package', 'Your earlier request is still open. You can view it in Request history.');
          throw err;
        }
        await recordAudit(trx, actor, {
          action: 'request.submitted',
          at: now,
          targetType: 'request',
          targetId: requestId,
          details: { accessPackageId: packageId, packageName: name, policyName: policy.name, resubmits: resubmits?.id ?? null },
        });
        await notifier.requestSubmitted(trx, requestId);

        if (needsApproval(policy)) {
          await createRequestStages(trx, requestId, policy);
          const { approvers, dueAt } = await startStage(trx, requestId, 1, user.id, now);
          await notifier.approvalNeeded(trx, requestId, 1, approvers.map((a) => a.userId), dueAt);
        } else {
          // The person's row has been held since the checks above, which found no live assignment and no incompatible package.
          try {
            const request = { id: requestId, directoryId: user.directory.id, accessPackageId: packageId, policyId: policy.id, targetUserId: user.id, requestedStart, requestedEnd, expiration: policy.expiration };
            await deliverRequest(trx, request, now, actor, notifier, { checkedUnderLock: true });
          } catch (err) {
            // A directory import, which does not take that lock, gave the package meanwhile.
            if (isLiveAssignmentTaken(err)) throw conflict('You already have this access package', 'It was assigned to you while you were submitting. See Active.');
            throw err;
          }
        }
        return { requestId, duplicate: false };
      });
    },

    async history(user: CurrentUser, page: PageRequest): Promise<Page<RequestSummary>> {
      const rows = await requestHistory(db, user.id, page, HISTORY_PAGE_SIZE);
      return toPage(rows, HISTORY_PAGE_SIZE, page, (r) => [serializeKey(r.submittedAt), r.id]);
    },

    async view(user: CurrentUser, requestId: string) {
      const request = await ownRequest(user, requestId);
      const timeline = describeTimeline(await requestTimeline(db, requestId));
      return { request, timeline, canCancel: canCancel(request.state), canResubmit: canResubmit(request.state) && !request.resubmittedById };
    },

    /** Cancels a request that is still pending approval; anything else is refused with the reason. */
    async cancel(user: CurrentUser, requestId: string, actor: Actor): Promise<RequestDetails> {
      const request = await ownRequest(user, requestId);
      return db.transaction(async (trx) => {
        const now = clock.now();
        const moved = await transitionRequest(trx, requestId, ['pendingApproval'], 'canceled', now, { completed_at: now });
        if (!moved) {
          const fresh = await trx('requests').where({ id: requestId }).first('state');
          throw conflict('This request cannot be canceled', cancelRefusal(fresh?.state));
        }
        await trx('request_stages').where({ request_id: requestId }).whereIn('state', ['pending', 'waiting']).update({ state: 'canceled' });
        const waiting = await closeApproverItems(trx, requestId);
        await recordAudit(trx, actor, { action: 'request.canceled', at: now, targetType: 'request', targetId: requestId, details: { packageName: request.packageName } });
        await notifier.requestCanceledForApprovers(trx, requestId, waiting);
        return request;
      });
    },
  };
}

/** Approvers stop seeing the request's stages under Pending. Returns who had it waiting for them. */
export async function closeApproverItems(trx: Knex, requestId: string): Promise<string[]> {
  const closed: { user_id: string }[] = await trx('request_stage_approvers')
    .whereIn('stage_id', trx('request_stages').where({ request_id: requestId }).select('id'))
    .where({ open: true })
    .update({ open: false })
    .returning('user_id');
  return [...new Set(closed.map((c) => c.user_id))];
}

function cancelRefusal(state: string | undefined): string {
  switch (state) {
    case 'canceled':
      return 'This request was already canceled.';
    case 'denied':
      return 'This request was denied, so there is nothing to cancel. You can resubmit it.';
    case 'expired':
      return 'This request expired because nobody decided in time, so there is nothing to cancel. You can resubmit it.';
    case 'delivered':
    case 'scheduled':
      return 'This request was approved and the access delivered, so it can no longer be canceled.';
    default:
      return 'Only a request that is pending approval can be canceled.';
  }
}

function prefillFrom(earlier: RequestDetails, policy: Policy | null): RequestInput {
  const values = emptyRequestInput();
  values.justification = earlier.justification ?? '';
  if (policy) {
    values.answers = policy.questions.map((q) => earlier.answers.find((a) => a.key === q.key)?.answer ?? '');
    values.attributes = policy.requestorAttributes.map((a) => earlier.requestorAttributes.find((x) => x.attribute === a.attribute)?.value ?? '');
  }
  if (earlier.requestedEnd) {
    values.specificPeriod = 'yes';
    values.startDate = (earlier.requestedStart ?? earlier.submittedAt).toISOString().slice(0, 10);
    values.endDate = new Date(earlier.requestedEnd).toISOString().slice(0, 10);
  }
  values.resubmitOf = earlier.id;
  return values;
}

const dayFormat = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
export function formatDay(d: Date): string {
  return dayFormat.format(d);
}

export type RequestService = ReturnType<typeof createRequestService>;
