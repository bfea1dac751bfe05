import { Router } from 'express';
import { HttpError } from '../errors.ts';
import type { Services } from '../services.ts';
import { pageRequestFrom } from '../shared/keyset.ts';
import { uuidParam } from '../shared/params.ts';
import { actorOf } from '../web/actor.ts';
import { htmxTarget, redirectWithFlash, render } from '../web/render.ts';

export function requestRoutes(services: Services): Router {
  const router = Router();
  const { requests } = services;

  router.get('/requests', async (req, res) => {
    const page = await requests.history(req.user!, pageRequestFrom(req.query, ['date', 'uuid']));
    render(req, res, 'requests/index', { title: 'Request history', page }, { fragments: { 'request-list': 'requests/_list' } });
  });

  router.get('/requests/:id', async (req, res) => {
    const view = await requests.view(req.user!, uuidParam(req));
    render(req, res, 'requests/show', { title: `Request for ${view.request.packageName}`, ...view }, { fragments: { pane: 'requests/_pane' } });
  });

  router.get('/requests/:id/submitted', async (req, res) => {
    const view = await requests.view(req.user!, uuidParam(req));
    render(req, res, 'requests/submitted', { title: 'Request submitted', ...view }, {
      fragments: { pane: 'requests/_submitted' },
      announce: `Request submitted for ${view.request.packageName}`,
      // Reached by the redirect after Submit: with JavaScript too, a reload shows this, not an empty form.
      pushAddress: true,
    });
  });

  router.get('/requests/:id/cancel', async (req, res) => {
    const view = await requests.view(req.user!, uuidParam(req));
    render(req, res, 'requests/cancel', { title: `Cancel request for ${view.request.packageName}`, ...view }, { fragments: { pane: 'requests/_cancel' } });
  });

  router.post('/requests/:id/cancel', async (req, res) => {
    const id = uuidParam(req);
    try {
      const request = await requests.cancel(req.user!, id, actorOf(req));
      redirectWithFlash(req, res, `/requests/${id}`, `Your request for ${request.packageName} was canceled.`);
    } catch (err) {
      // Too late (already decided, canceled or expired): show the request as it is now, with why.
      if (!(err instanceof HttpError) || err.status !== 409) throw err;
      const view = await requests.view(req.user!, id);
      render(req, res, 'requests/show', { title: `Request for ${view.request.packageName}`, ...view, refusal: err }, {
        status: 409,
        fragments: { pane: 'requests/_pane' },
        announce: htmxTarget(req) ? err.title : undefined,
      });
    }
  });

  return router;
}
