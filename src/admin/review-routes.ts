import { Router, type Request, type Response } from 'express';
import { HttpError, ValidationFailed, type FieldError } from '../errors.ts';
import { RECURRENCE_LABELS, RECURRENCES } from '../reviews/schedule.ts';
import type { Services } from '../services.ts';
import { uuidParam } from '../shared/params.ts';
import { actorOf } from '../web/actor.ts';
import { FormBody } from '../web/forms.ts';
import { redirectWithFlash, render } from '../web/render.ts';
import type { ReviewInput } from './review-service.ts';
import { scopeOf } from './routes.ts';

const emails = (text: string) =>
  text
    .split(/\r?\n|,|;/)
    .map((l) => l.trim().toLowerCase())
    .filter(Boolean);

const readReview = (form: FormBody): ReviewInput => ({
  name: form.text('name'),
  description: form.text('description'),
  scope: form.text('scope'),
  reviewerType: form.text('reviewerType'),
  fallbackReviewers: emails(form.raw('fallbackReviewers')),
  specificReviewers: emails(form.raw('specificReviewers')),
  startsOn: form.text('startsOn'),
  durationDays: form.text('durationDays'),
  recurrence: form.text('recurrence'),
  ifNoResponse: form.text('ifNoResponse'),
  autoApply: form.text('autoApply') === 'yes',
  requireJustification: form.text('requireJustification') === 'yes',
  showRecommendations: form.text('showRecommendations') === 'yes',
});

/** Words for the file format's values, for the pages. */
const LABELS = {
  recurrences: RECURRENCES.map((r) => ({ value: r, label: RECURRENCE_LABELS[r] })),
  recurrence: RECURRENCE_LABELS as Record<string, string>,
  ifNoResponse: { noChange: 'No change: access stays', removeAccess: 'Remove access', takeRecommendations: 'Take the recommendations' } as Record<string, string>,
  scopeType: { accessPackage: 'Access package', group: 'Group', resource: 'Resource' } as Record<string, string>,
  state: { active: 'Active', ended: 'Ended: results not applied', applied: 'Results applied' } as Record<string, string>,
  tone: { active: 'pending', ended: 'ended', applied: 'done' } as Record<string, string>,
};

const is409 = (err: unknown): err is HttpError => err instanceof HttpError && err.status === 409;

/** Access reviews in administration: definitions, their instances, Start now, Stop, Apply results and the results as CSV. */
export function reviewAdminRoutes(services: Services): Router {
  const router = Router();
  const reviews = services.admin.reviews;

  /** Runs a save; on refused input re-renders the form with the messages, the typed values and 422. */
  const saving = async (res: Response, save: () => Promise<void>, rerender: (errors: FieldError[]) => Promise<void>) => {
    try {
      await save();
    } catch (err) {
      if (!(err instanceof ValidationFailed)) throw err;
      res.status(422);
      await rerender(err.errors);
    }
  };

  router.get('/admin/access-reviews', async (req, res) => {
    const scope = scopeOf(res);
    render(req, res, 'admin/reviews/index', { title: 'Access reviews', scope, reviews: await reviews.list(scope), labels: LABELS });
  });

  const newForm = async (req: Request, res: Response, extra: { values?: ReviewInput; errors?: FieldError[] } = {}) => {
    const scope = scopeOf(res);
    const values = extra.values ?? reviews.emptyInput();
    render(req, res, 'admin/reviews/new', { title: 'Create an access review', scope, values, scopeOptions: await reviews.scopeOptions(scope), errors: extra.errors, labels: LABELS }, { status: extra.errors ? 422 : 200 });
  };

  router.get('/admin/access-reviews/new', (req, res) => newForm(req, res));

  router.post('/admin/access-reviews/new', async (req, res) => {
    const input = readReview(FormBody.of(req));
    await saving(
      res,
      async () => {
        const id = await reviews.save(scopeOf(res), null, input, actorOf(req));
        redirectWithFlash(req, res, `/admin/access-reviews/${id}`, `Access review ${input.name} created.`);
      },
      (errors) => newForm(req, res, { values: input, errors }),
    );
  });

  const showReview = async (req: Request, res: Response, id: string, extra: { values?: ReviewInput; errors?: FieldError[]; refusal?: HttpError } = {}) => {
    const scope = scopeOf(res);
    const data = await reviews.get(scope, id);
    const status = extra.refusal ? extra.refusal.status : extra.errors ? 422 : 200;
    render(req, res, 'admin/reviews/show', { title: data.review.name, scope, ...data, values: extra.values ?? data.values, errors: extra.errors, refusal: extra.refusal, labels: LABELS }, { status });
  };

  router.get('/admin/access-reviews/:id', (req, res) => showReview(req, res, uuidParam(req)));

  router.post('/admin/access-reviews/:id', async (req, res) => {
    const id = uuidParam(req);
    const input = readReview(FormBody.of(req));
    await saving(
      res,
      async () => {
        await reviews.save(scopeOf(res), id, input, actorOf(req));
        redirectWithFlash(req, res, `/admin/access-reviews/${id}`, `Access review ${input.name} saved. Instances already running keep their reviewers and end date.`);
      },
      (errors) => showReview(req, res, id, { values: input, errors }),
    );
  });

  router.get('/admin/access-reviews/:id/remove', async (req, res) => {
    const scope = scopeOf(res);
    const data = await reviews.get(scope, uuidParam(req));
    render(req, res, 'admin/reviews/remove', { title: `Remove ${data.review.name}`, scope, ...data, labels: LABELS });
  });

  router.post('/admin/access-reviews/:id/remove', async (req, res) => {
    const id = uuidParam(req);
    await saving(
      res,
      async () => {
        const removed = await reviews.remove(scopeOf(res), id, actorOf(req));
        redirectWithFlash(req, res, '/admin/access-reviews', `Access review ${removed.name} removed.`);
      },
      (errors) => showReview(req, res, id, { errors }),
    );
  });

  router.post('/admin/access-reviews/:id/start', async (req, res) => {
    const id = uuidParam(req);
    try {
      const started = await reviews.startNow(scopeOf(res), id, actorOf(req));
      const who = started.items === 1 ? '1 person’s access' : `${started.items} people’s access`;
      redirectWithFlash(req, res, `/admin/access-reviews/${id}`, started.items === 0 ? 'The review started, but nobody has access in its scope: there is nothing to review.' : `The review started: ${who} to review. Reviewers have been sent an email.`);
    } catch (err) {
      if (!is409(err)) throw err;
      await showReview(req, res, id, { refusal: err });
    }
  });

  // ---- one instance: Stop, Apply results, results as CSV ------------------------------------
  const instancePage = async (req: Request, res: Response, action: 'stop' | 'apply') => {
    const scope = scopeOf(res);
    const view = await reviews.instance(scope, uuidParam(req), uuidParam(req, 'instanceId'));
    const title = action === 'stop' ? `Stop ${view.review.name}` : `Apply the results of ${view.review.name}`;
    render(req, res, 'admin/reviews/instance-action', { title, scope, action, ...view, labels: LABELS });
  };

  router.get('/admin/access-reviews/:id/instances/:instanceId/stop', (req, res) => instancePage(req, res, 'stop'));
  router.get('/admin/access-reviews/:id/instances/:instanceId/apply', (req, res) => instancePage(req, res, 'apply'));

  router.post('/admin/access-reviews/:id/instances/:instanceId/stop', async (req, res) => {
    const id = uuidParam(req);
    try {
      const review = await reviews.stop(scopeOf(res), id, uuidParam(req, 'instanceId'), actorOf(req));
      const flash = review.state === 'applied' ? 'The review was stopped and its results applied.' : 'The review was stopped. Reviewers can no longer decide; apply its results when you are ready.';
      redirectWithFlash(req, res, `/admin/access-reviews/${id}`, flash);
    } catch (err) {
      if (!is409(err)) throw err;
      await showReview(req, res, id, { refusal: err });
    }
  });

  router.post('/admin/access-reviews/:id/instances/:instanceId/apply', async (req, res) => {
    const id = uuidParam(req);
    try {
      const { kept, removed } = await reviews.apply(scopeOf(res), id, uuidParam(req, 'instanceId'), actorOf(req));
      const people = (n: number) => (n === 1 ? '1 person' : `${n} people`);
      redirectWithFlash(req, res, `/admin/access-reviews/${id}`, `The results were applied: ${people(removed)} lost access, ${people(kept)} kept it.`);
    } catch (err) {
      if (!is409(err)) throw err;
      await showReview(req, res, id, { refusal: err });
    }
  });

  router.get('/admin/access-reviews/:id/instances/:instanceId/results.csv', async (req, res) => {
    const { filename, csv } = await reviews.resultsCsv(scopeOf(res), uuidParam(req), uuidParam(req, 'instanceId'));
    res.set('Content-Type', 'text/csv; charset=utf-8');
    res.set('Content-Disposition', `attachment; filename="${filename}"`);
    res.set('Cache-Control', 'no-store');
    res.send(csv);
  });

  return router;
}
