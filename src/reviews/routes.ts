import { Router, type Request, type Response } from 'express';
import { HttpError, ValidationFailed, type FieldError } from '../errors.ts';
import type { Services } from '../services.ts';
import { pageRequestFrom } from '../shared/keyset.ts';
import { uuidParam } from '../shared/params.ts';
import { actorOf } from '../web/actor.ts';
import { FormBody } from '../web/forms.ts';
import { redirectWithFlash, render } from '../web/render.ts';
import { noResponseSentence } from './lifecycle.ts';
import { recommendationReason } from './service.ts';

interface Extra {
  status?: number;
  errors?: FieldError[];
  /** The answers as typed, for the item whose form failed. */
  values?: { decision: string; justification: string };
  errorItemId?: string;
  refusal?: HttpError;
}

/**
 * Post/Redirect/Get with the flash written to the session store before the 303 goes out.
 * express-session sends the headers before its own save finishes, and browsers follow a redirect
 * as soon as the headers arrive, so the next page could otherwise load the session without it.
 */
const decided = (decision: string, name: string, access: string) =>
  decision === 'approve'
    ? `You approved ${name}’s access to ${access}.`
    : decision === 'deny'
      ? `You denied ${name}’s access to ${access}.`
      : `You chose Don't know for ${name}’s access to ${access}. Their access is kept.`;

export function reviewRoutes(services: Services): Router {
  const router = Router();
  const { reviews } = services;
  const helpers = { noResponseSentence, recommendationReason };

  router.get('/access-reviews', async (req, res) => {
    const page = await reviews.pending(req.user!, pageRequestFrom(req.query, ['date', 'uuid']));
    render(req, res, 'reviews/index', { title: 'Access reviews', tab: 'pending', page }, { fragments: { 'review-list': 'reviews/_pending' } });
  });

  router.get('/access-reviews/ended', async (req, res) => {
    const page = await reviews.ended(req.user!, pageRequestFrom(req.query, ['date', 'uuid']));
    render(req, res, 'reviews/ended', { title: 'Ended access reviews', tab: 'ended', page });
  });

  const showReview = async (req: Request, res: Response, id: string, extra: Extra = {}) => {
    const view = await reviews.view(req.user!, id, pageRequestFrom(req.query, ['string', 'uuid']));
    const self = view.review.reviewerType === 'self';
    render(req, res, 'reviews/show', { title: self ? 'Review your access' : view.review.name, ...view, ...extra, helpers }, {
      status: extra.status,
      fragments: { 'review-body': 'reviews/_body', 'item-list': 'reviews/_items' },
      announce: extra.refusal?.title,
    });
  };

  type ItemView = Awaited<ReturnType<typeof reviews.item>>;
  const showItem = async (req: Request, res: Response, id: string, itemId: string, extra: Extra = {}, loaded?: ItemView) => {
    const view = loaded ?? (await reviews.item(req.user!, id, itemId));
    render(req, res, 'reviews/item', { title: `${view.item.subjectName}: ${view.review.name}`, ...view, ...extra, values: extra.values ?? { decision: '', justification: '' }, helpers }, {
      status: extra.status,
      fragments: { pane: 'reviews/_pane' },
      announce: extra.refusal?.title,
    });
  };

  router.get('/access-reviews/:id', async (req, res) => {
    await showReview(req, res, uuidParam(req));
  });

  router.get('/access-reviews/:id/results.csv', async (req, res) => {
    const { filename, csv } = await reviews.resultsCsv(req.user!, uuidParam(req));
    res.set('Content-Type', 'text/csv; charset=utf-8');
    res.set('Content-Disposition', `attachment; filename="${filename}"`);
    res.set('Cache-Control', 'no-store');
    res.send(csv);
  });

  router.post('/access-reviews/:id/accept-recommendations', async (req, res) => {
    const id = uuidParam(req);
    try {
      const { accepted } = await reviews.acceptRecommendations(req.user!, id, actorOf(req));
      redirectWithFlash(req, res, `/access-reviews/${id}`, accepted === 0 ? 'There were no recommendations left to accept.' : `You accepted ${accepted === 1 ? '1 recommendation' : `${accepted} recommendations`}.`);
    } catch (err) {
      if (err instanceof HttpError && err.status === 409) return showReview(req, res, id, { status: 409, refusal: err });
      throw err;
    }
  });

  router.get('/access-reviews/:id/items/:itemId', async (req, res) => {
    const id = uuidParam(req);
    const itemId = uuidParam(req, 'itemId');
    // A self-review's questions are all on the review page.
    const view = await reviews.item(req.user!, id, itemId);
    if (view.review.reviewerType === 'self') return res.redirect(303, `/access-reviews/${id}`);
    await showItem(req, res, id, itemId, {}, view);
  });

  router.post('/access-reviews/:id/items/:itemId', async (req, res) => {
    const id = uuidParam(req);
    const itemId = uuidParam(req, 'itemId');
    const form = FormBody.of(req);
    const input = { decision: form.text('decision'), justification: form.raw('justification') };
    try {
      const { review, item, decision } = await reviews.decide(req.user!, id, itemId, input, actorOf(req));
      if (review.reviewerType === 'self') {
        const answer = decision === 'approve' ? `you still need access to ${item.accessLabel}` : `you no longer need access to ${item.accessLabel}`;
        return redirectWithFlash(req, res, `/access-reviews/${id}`, `Thank you. You told us ${answer}.`);
      }
      redirectWithFlash(req, res, `/access-reviews/${id}/items/${itemId}`, decided(decision, item.subjectName, item.accessLabel));
    } catch (err) {
      const failed = err instanceof ValidationFailed;
      if (!failed && !(err instanceof HttpError && err.status === 409)) throw err;
      // Which page the form was on: a self-review's forms are on the review page, one per item.
      const { review } = await reviews.view(req.user!, id, {});
      if (review.reviewerType === 'self') {
        return showReview(req, res, id, failed
          ? { status: 422, errors: err.errors.map((e) => ({ ...e, href: `#${e.field}-${itemId}` })), values: input, errorItemId: itemId }
          : { status: 409, refusal: err as HttpError });
      }
      return showItem(req, res, id, itemId, failed ? { status: 422, errors: err.errors, values: input } : { status: 409, refusal: err as HttpError });
    }
  });

  return router;
}
