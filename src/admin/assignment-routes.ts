import { Router, type Request, type Response } from 'express';
import { HttpError, ValidationFailed } from '../errors.ts';
import type { Services } from '../services.ts';
import { pageRequestFrom } from '../shared/keyset.ts';
import { queryText, uuidParam } from '../shared/params.ts';
import { actorOf } from '../web/actor.ts';
import { FormBody } from '../web/forms.ts';
import { listAnnouncement, redirectWithFlash, render } from '../web/render.ts';
import { ASSIGNMENT_STATE_FILTERS, type AssignmentStateFilter } from './assignment-data.ts';
import { emptyAssignInput, type AssignInput } from './assignment-service.ts';
import { scopeOf } from './routes.ts';

const STATE_LABELS: Record<AssignmentStateFilter, string> = {
  live: 'Active (delivered or scheduled)',
  delivered: 'Delivered',
  scheduled: 'Scheduled',
  expired: 'Ended',
  all: 'All',
};

/** Assignments of an access package: the list, "Assign a user", and removal with a confirmation page. */
export function assignmentAdminRoutes(services: Services): Router {
  const router = Router();
  const assignments = services.admin.assignments;
  const base = (packageId: string) => `/admin/access-packages/${packageId}/assignments`;

  router.get('/admin/access-packages/:id/assignments', async (req, res) => {
    const packageId = uuidParam(req);
    const stateParam = queryText(req, 'state') as AssignmentStateFilter;
    const state = ASSIGNMENT_STATE_FILTERS.includes(stateParam) ? stateParam : 'live';
    const q = queryText(req, 'q', 200);
    const result = await assignments.list(scopeOf(res), packageId, { state, q }, pageRequestFrom(req.query, ['string', 'uuid']));
    render(
      req,
      res,
      'admin/assignments/index',
      { title: `Assignments: ${result.pkg.name}`, scope: scopeOf(res), ...result, state, q, stateOptions: ASSIGNMENT_STATE_FILTERS.map((value) => ({ value, label: STATE_LABELS[value] })) },
      { fragments: { 'assignment-results': 'admin/assignments/_list' }, announce: listAnnouncement(result.page, { one: 'assignment', many: 'assignments' }, q) },
    );
  });

  async function renderForm(req: Request, res: Response, packageId: string, values: AssignInput, errors?: ValidationFailed['errors'], status = 200) {
    const form = await assignments.assignForm(scopeOf(res), packageId);
    if (form.policies.length === 1 && !values.policyId) values = { ...values, policyId: form.policies[0].id };
    render(req, res, 'admin/assignments/new', { title: `Assign a user: ${form.pkg.name}`, scope: scopeOf(res), ...form, values, errors }, { status });
  }

  router.get('/admin/access-packages/:id/assignments/new', async (req, res) => {
    await renderForm(req, res, uuidParam(req), emptyAssignInput());
  });

  router.post('/admin/access-packages/:id/assignments', async (req, res) => {
    const packageId = uuidParam(req);
    const form = FormBody.of(req);
    const values: AssignInput = {
      email: form.text('email'),
      policyId: form.text('policy'),
      startDate: form.text('startDate'),
      endDate: form.text('endDate'),
      justification: form.raw('justification'),
    };
    try {
      const done = await assignments.assign(scopeOf(res), packageId, values, actorOf(req));
      redirectWithFlash(
        req,
        res,
        base(packageId),
        done.state === 'delivered' ? `${done.userName} now has ${done.packageName}.` : `${done.packageName} is scheduled for ${done.userName}.`,
      );
    } catch (err) {
      if (!(err instanceof ValidationFailed)) throw err;
      await renderForm(req, res, packageId, values, err.errors, 422);
    }
  });

  router.get('/admin/access-packages/:id/assignments/:assignmentId/remove', async (req, res) => {
    const removal = await assignments.removal(scopeOf(res), uuidParam(req), uuidParam(req, 'assignmentId'));
    render(req, res, 'admin/assignments/remove', { title: `Remove ${removal.assignment.userName} from ${removal.pkg.name}`, scope: scopeOf(res), ...removal });
  });

  router.post('/admin/access-packages/:id/assignments/:assignmentId/remove', async (req, res) => {
    const packageId = uuidParam(req);
    const assignmentId = uuidParam(req, 'assignmentId');
    try {
      const done = await assignments.remove(scopeOf(res), packageId, assignmentId, actorOf(req));
      redirectWithFlash(req, res, base(packageId), `${done.userName} no longer has ${done.packageName}.`);
    } catch (err) {
      // Already ended (by someone else, a review or the sweep): the confirmation page says so, with 409.
      if (!(err instanceof HttpError) || err.status !== 409) throw err;
      const removal = await assignments.removal(scopeOf(res), packageId, assignmentId);
      render(req, res, 'admin/assignments/remove', { title: `Remove ${removal.assignment.userName} from ${removal.pkg.name}`, scope: scopeOf(res), ...removal, refusal: err }, { status: 409 });
    }
  });

  return router;
}
