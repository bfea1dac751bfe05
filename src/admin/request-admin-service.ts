import type { Knex } from 'knex';
import { recordAudit, type Actor } from '../audit/audit.ts';
import type { Clock } from '../clock.ts';
import { conflict, FieldErrors } from '../errors.ts';
import type { Notifier } from '../notifications/notifier.ts';
import { requestDetails, requestTimeline, transitionRequest, type RequestDetails } from '../requests/data.ts';
import { closeApproverItems } from '../requests/service.ts';
import { canCancel, REQUEST_STATES, type RequestState } from '../requests/states.ts';
import { describeTimeline } from '../requests/timeline.ts';
import { isUuid } from '../shared/params.ts';
import { serializeKey, toPage, type Page, type PageRequest } from '../shared/keyset.ts';
import { catalogsInScope } from './data.ts';
import { packagesInScope, requestCatalogInScope, requestsInScope, type AdminRequestFilter, type AdminRequestRow } from './request-admin-data.ts';
import { adminNotFound, type AdminScope } from './scope.ts';
import { REASON_MAX } from './assignment-service.ts';

const PAGE_SIZE = 25;

/** Filters as typed in the query string; anything that is not a known state or an id is no filter. */
export function requestFilterFrom(query: { state: string; catalog: string; package: string }): AdminRequestFilter {
  return {
    state: (REQUEST_STATES as readonly string[]).includes(query.state) ? (query.state as RequestState) : '',
    catalogId: isUuid(query.catalog) ? query.catalog.toLowerCase() : '',
    packageId: isUuid(query.package) ? query.package.toLowerCase() : '',
  };
}

function refusal(state: string | undefined): string {
  switch (state) {
    case 'canceled':
      return 'This request was already canceled.';
    case 'denied':
      return 'This request was denied, so there is nothing to cancel.';
    case 'expired':
      return 'This request expired because nobody decided in time, so there is nothing to cancel.';
    case 'delivered':
    case 'scheduled':
      return 'This request was approved and the access delivered, so it can no longer be canceled. Remove the assignment instead.';
    default:
      return 'Only a request that is pending approval can be canceled.';
  }
}

/** Requests as administrators and catalog owners see them: every request in their scope, and cancel on someone's behalf. */
export function createRequestAdmin(deps: { db: Knex; clock: Clock; notifier: Notifier }) {
  const { db, clock, notifier } = deps;

  async function inScopeOrNotFound(scope: AdminScope, requestId: string): Promise<{ request: RequestDetails; catalogId: string; catalogName: string }> {
    const catalog = await requestCatalogInScope(db, scope, requestId);
    const request = catalog ? await requestDetails(db, requestId) : null;
    if (!catalog || !request) throw adminNotFound();
    return { request, ...catalog };
  }

  return {
    async list(scope: AdminScope, filter: AdminRequestFilter, page: PageRequest): Promise<{ page: Page<AdminRequestRow>; catalogs: { id: string; name: string }[]; packages: { id: string; name: string; catalogId: string; catalogName: string }[] }> {
      const [rows, catalogs, packages] = [
        await requestsInScope(db, scope, filter, page, PAGE_SIZE),
        await catalogsInScope(db, scope),
        await packagesInScope(db, scope),
      ];
      return {
        page: toPage(rows, PAGE_SIZE, page, (r) => [serializeKey(r.submittedAt), r.id]),
        catalogs: catalogs.map((c) => ({ id: c.id, name: c.name })),
        packages,
      };
    },

    async view(scope: AdminScope, requestId: string) {
      const found = await inScopeOrNotFound(scope, requestId);
      const timeline = describeTimeline(await requestTimeline(db, requestId));
      return { ...found, timeline, canCancel: canCancel(found.request.state) };
    },

    /**
     * Cancels a pending request on the requestor's behalf, with a reason they are sent. Only a
     * request still pending approval moves (a conditional update): one decided meanwhile is a 409.
     */
    async cancel(scope: AdminScope, requestId: string, reasonTyped: string, actor: Actor): Promise<RequestDetails> {
      const { request } = await inScopeOrNotFound(scope, requestId);
      const reason = reasonTyped.trim();
      const errors = new FieldErrors();
      if (!reason) errors.add('reason', 'Enter the reason for canceling the request');
      else if (reason.length > REASON_MAX) errors.add('reason', `Reason must be ${REASON_MAX.toLocaleString('en-GB')} characters or fewer`);
      errors.throwIfAny();
      return db.transaction(async (trx) => {
        const now = clock.now();
        const moved = await transitionRequest(trx, requestId, ['pendingApproval'], 'canceled', now, { completed_at: now });
        if (!moved) {
          const fresh = await trx('requests').where({ id: requestId }).first('state');
          throw conflict('This request cannot be canceled', refusal(fresh?.state));
        }
        await trx('request_stages').where({ request_id: requestId }).whereIn('state', ['pending', 'waiting']).update({ state: 'canceled' });
        const waiting = await closeApproverItems(trx, requestId);
        await notifier.requestCanceledForApprovers(trx, requestId, waiting);
        await recordAudit(trx, actor, {
          action: 'request.canceled',
          at: now,
          directoryId: scope.directoryId,
          targetType: 'request',
          targetId: requestId,
          details: {
            packageName: request.packageName,
            reason,
            onBehalfOf: request.requestorEmail,
            before: { state: 'pendingApproval' },
            after: { state: 'canceled' },
          },
        });
        const canceledBy = scope.user.displayName;
        await notifier.send(
          trx,
          'requestCanceled',
          request.targetUserId,
          (to, links) => ({
            subject: `Your request for ${request.packageName} was canceled`,
            greeting: `Hello ${to.name},`,
            paragraphs: [
              `${canceledBy}, who administers ${request.packageName}, canceled your request for access to it.`,
              `Their reason: ${reason}`,
              'If you still need access, you can request the access package again.',
            ],
            action: { label: 'View your request', url: links.to(`/requests/${requestId}`) },
          }),
          `requestCanceled:${requestId}`,
        );
        return request;
      });
    },
  };
}

export type RequestAdmin = ReturnType<typeof createRequestAdmin>;
