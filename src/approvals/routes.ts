import { Router, type Request, type Response } from 'express';
import { HttpError, ValidationFailed } from '../errors.ts';
import type { Services } from '../services.ts';
import { pageRequestFrom } from '../shared/keyset.ts';
import { uuidParam } from '../shared/params.ts';
import { actorOf } from '../web/actor.ts';
import { FormBody } from '../web/forms.ts';
import { redirectWithFlash, render } from '../web/render.ts';

export function approvalRoutes(services: Services): Router {
  const router = Router();
  const { approvals } = services;

  router.get('/approvals', async (req, res) => {
    const page = await approvals.pending(req.user!, pageRequestFrom(req.query, ['date', 'uuid']));
    render(req, res, 'approvals/index', { title: 'Approvals', tab: 'pending', page }, { fragments: { 'approval-list': 'approvals/_pending' } });
  });

  router.get('/approvals/history', async (req, res) => {
    const page = await approvals.history(req.user!, pageRequestFrom(req.query, ['date', 'uuid']));
    render(req, res, 'approvals/history', { title: 'Approvals history', tab: 'history', page });
  });

  const showRequest = async (req: Request, res: Response, id: string, extra: { status?: number; errors?: ValidationFailed['errors']; values?: Record<string, string>; refusal?: HttpError } = {}) => {
    const view = await approvals.view(req.user!, id);
    render(req, res, 'approvals/show', { title: `Request from ${view.request.requestorName}`, ...view, ...extra, values: extra.values ?? { justification: '' } }, {
      status: extra.status,
      fragments: { pane: 'approvals/_pane' },
      announce: extra.refusal?.title,
    });
  };

  router.get('/approvals/:id', async (req, res) => {
    await showRequest(req, res, uuidParam(req));
  });

  router.post('/approvals/:id', async (req, res) => {
    const id = uuidParam(req);
    const form = FormBody.of(req);
    const input = { decision: form.text('decision'), justification: form.raw('justification'), stage: form.text('stage') };
    try {
      const { request } = await approvals.decide(req.user!, id, input, actorOf(req));
      const verb = input.decision === 'approve' ? 'approved' : 'denied';
      redirectWithFlash(req, res, `/approvals/${id}`, `You ${verb} the request from ${request.requestorName} for ${request.packageName}.`);
    } catch (err) {
      if (err instanceof ValidationFailed) return showRequest(req, res, id, { status: 422, errors: err.errors, values: { justification: input.justification } });
      if (err instanceof HttpError && err.status === 409) return showRequest(req, res, id, { status: 409, refusal: err });
      throw err;
    }
  });

  return router;
}
