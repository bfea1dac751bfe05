import { Router } from 'express';
import { HttpError, ValidationFailed } from '../errors.ts';
import { REQUEST_STATES } from '../requests/states.ts';
import type { Services } from '../services.ts';
import { pageRequestFrom } from '../shared/keyset.ts';
import { queryText, uuidParam } from '../shared/params.ts';
import { actorOf } from '../web/actor.ts';
import { FormBody } from '../web/forms.ts';
import { listAnnouncement, redirectWithFlash, render } from '../web/render.ts';
import { requestFilterFrom } from './request-admin-service.ts';
import { scopeOf } from './routes.ts';

/** Requests in the administrator's scope: the filtered list, one request, and cancel on the requestor's behalf. */
export function requestAdminRoutes(services: Services): Router {
  const router = Router();
  const requests = services.admin.requests;

  router.get('/admin/requests', async (req, res) => {
    const filter = requestFilterFrom({ state: queryText(req, 'state'), catalog: queryText(req, 'catalog'), package: queryText(req, 'package') });
    const result = await requests.list(scopeOf(res), filter, pageRequestFrom(req.query, ['date', 'uuid']));
    render(req, res, 'admin/requests/index', { title: 'Requests', scope: scopeOf(res), filter, states: REQUEST_STATES, ...result }, { fragments: { 'request-results': 'admin/requests/_list' }, announce: listAnnouncement(result.page, { one: 'request', many: 'requests' }) });
  });

  router.get('/admin/requests/:id', async (req, res) => {
    const view = await requests.view(scopeOf(res), uuidParam(req));
    render(req, res, 'admin/requests/show', { title: `Request from ${view.request.requestorName} for ${view.request.packageName}`, scope: scopeOf(res), ...view });
  });

  router.get('/admin/requests/:id/cancel', async (req, res) => {
    const view = await requests.view(scopeOf(res), uuidParam(req));
    render(req, res, 'admin/requests/cancel', { title: `Cancel the request from ${view.request.requestorName}`, scope: scopeOf(res), ...view, values: { reason: '' } });
  });

  router.post('/admin/requests/:id/cancel', async (req, res) => {
    const id = uuidParam(req);
    const reason = FormBody.of(req).raw('reason');
    try {
      const request = await requests.cancel(scopeOf(res), id, reason, actorOf(req));
      redirectWithFlash(req, res, `/admin/requests/${id}`, `The request from ${request.requestorName} for ${request.packageName} was canceled. ${request.requestorName} has been told why.`);
    } catch (err) {
      const refused = err instanceof HttpError && err.status === 409;
      if (!(err instanceof ValidationFailed) && !refused) throw err;
      const view = await requests.view(scopeOf(res), id);
      if (err instanceof ValidationFailed) {
        render(req, res, 'admin/requests/cancel', { title: `Cancel the request from ${view.request.requestorName}`, scope: scopeOf(res), ...view, values: { reason }, errors: err.errors }, { status: 422 });
        return;
      }
      // Decided, canceled or expired meanwhile: the request as it is now, with why.
      render(req, res, 'admin/requests/show', { title: `Request from ${view.request.requestorName} for ${view.request.packageName}`, scope: scopeOf(res), ...view, refusal: err }, { status: 409 });
    }
  });

  return router;
}
