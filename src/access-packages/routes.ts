import { Router, type Request, type Response } from 'express';
import { randomUUID } from 'node:crypto';
import { FieldErrors, ValidationFailed } from '../errors.ts';
import type { Services } from '../services.ts';
import { pageRequestFrom } from '../shared/keyset.ts';
import { queryText, uuidParam, isUuid } from '../shared/params.ts';
import { actorOf } from '../web/actor.ts';
import { FormBody } from '../web/forms.ts';
import { listAnnouncement, render } from '../web/render.ts';
import { emptyRequestInput, type RequestInput } from '../requests/service.ts';
import { COUNT_CAP } from './service.ts';
import type { SearchField } from './data.ts';

const SEARCH_FIELDS: SearchField[] = ['all', 'name', 'resources'];
const MAX_QUESTIONS = 50;

/** Reads the request form. Every field is text; repeated or object-shaped fields were refused by FormBody. */
function readRequestInput(form: FormBody): RequestInput {
  const indexed = (prefix: string) => {
    const values: string[] = [];
    for (let i = 0; i < MAX_QUESTIONS; i++) values.push(form.raw(`${prefix}-${i}`));
    return values;
  };
  return {
    policyId: form.text('policy'),
    policyVersion: form.text('policyVersion'),
    answers: indexed('answer'),
    attributes: indexed('attribute'),
    justification: form.raw('justification'),
    specificPeriod: form.text('specificPeriod'),
    startDate: form.text('startDate'),
    endDate: form.text('endDate'),
    submissionKey: form.text('submissionKey').slice(0, 100),
    resubmitOf: isUuid(form.text('resubmitOf')) ? form.text('resubmitOf') : '',
  };
}

export function accessPackageRoutes(services: Services): Router {
  const router = Router();
  const { accessPackages, requests } = services;

  router.get('/access-packages', async (req, res) => {
    const q = queryText(req, 'q', 200);
    const fieldParam = queryText(req, 'field') as SearchField;
    const field = SEARCH_FIELDS.includes(fieldParam) ? fieldParam : 'all';
    const result = await accessPackages.available(req.user!, { q, field }, pageRequestFrom(req.query, ['string', 'uuid']));
    render(req, res, 'access-packages/index', { title: 'Access packages', tab: 'available', q, field, countCap: COUNT_CAP, ...result }, {
      fragments: { 'package-results': 'access-packages/_results' },
      announce: listAnnouncement(result.page, { one: 'access package', many: 'access packages', none: 'access packages you can request' }, q),
    });
  });

  router.get('/access-packages/active', async (req, res) => {
    const { page, total } = await accessPackages.active(req.user!, pageRequestFrom(req.query, ['dateOrNull', 'string', 'uuid']));
    render(req, res, 'access-packages/active', { title: 'Active access packages', tab: 'active', page, total });
  });

  router.get('/access-packages/expired', async (req, res) => {
    const page = await accessPackages.expired(req.user!, pageRequestFrom(req.query, ['date', 'uuid']));
    render(req, res, 'access-packages/expired', { title: 'Expired access packages', tab: 'expired', page });
  });

  router.get('/access-packages/:id', async (req, res) => {
    const view = await requests.visiblePackage(req.user!, uuidParam(req));
    render(req, res, 'access-packages/show', { title: view.pkg.name, ...view }, { fragments: { pane: 'access-packages/_pane' } });
  });

  const renderForm = async (req: Request, res: Response, packageId: string, options: { policyId?: string; choosePolicy?: boolean; resubmitOf?: string; values?: RequestInput; errors?: ValidationFailed['errors'] }) => {
    const model = await requests.requestForm(req.user!, packageId, options);
    if (!model.values.submissionKey) model.values.submissionKey = randomUUID();
    render(req, res, 'requests/new', { title: `Request access: ${model.pkg.name}`, ...model, errors: options.errors }, {
      status: options.errors ? 422 : 200,
      fragments: { pane: 'requests/_form', 'period-fields': 'requests/_period-fields' },
      keepTitleFor: ['period-fields'],
    });
  };

  router.get('/access-packages/:id/request', async (req, res) => {
    const packageId = uuidParam(req);
    const policyId = queryText(req, 'policy', 40);
    const resubmitOf = queryText(req, 'resubmitOf', 40);
    // The period toggle asks for its fragment with the dates typed so far, so that they survive No, then Yes.
    const values = {
      ...emptyRequestInput(),
      specificPeriod: queryText(req, 'specificPeriod') === 'yes' ? 'yes' : 'no',
      startDate: queryText(req, 'startDate', 20),
      endDate: queryText(req, 'endDate', 20),
    };
    // Continue pressed with no policy chosen: say so, rather than show the same choice again.
    const noPolicyChosen = queryText(req, 'step') === 'policy' && !isUuid(policyId);
    await renderForm(req, res, packageId, {
      policyId: isUuid(policyId) ? policyId : undefined,
      choosePolicy: queryText(req, 'choose') === 'policy' || noPolicyChosen,
      resubmitOf: isUuid(resubmitOf) ? resubmitOf : undefined,
      values: resubmitOf ? undefined : values,
      errors: noPolicyChosen ? new FieldErrors().add('policy', 'Select a policy').toArray() : undefined,
    });
  });

  router.post('/access-packages/:id/request', async (req, res) => {
    const packageId = uuidParam(req);
    const input = readRequestInput(FormBody.of(req));
    try {
      const { requestId } = await requests.submit(req.user!, packageId, input, actorOf(req));
      res.redirect(303, `/requests/${requestId}/submitted`);
    } catch (err) {
      if (!(err instanceof ValidationFailed)) throw err;
      await renderForm(req, res, packageId, {
        policyId: input.policyId || undefined,
        resubmitOf: input.resubmitOf || undefined,
        values: { ...input, policyVersion: '' },
        errors: err.errors,
      });
    }
  });

  return router;
}
