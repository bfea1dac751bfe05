import { Router, type Request, type Response } from 'express';
import type { FieldError } from '../errors.ts';
import type { ImportPlan, Problem } from '../directory/import.ts';
import type { Services } from '../services.ts';
import { actorOf } from '../web/actor.ts';
import { FormBody } from '../web/forms.ts';
import { redirectWithFlash, render } from '../web/render.ts';
import { ACTION_LABELS, KIND_LABELS, MAX_IMPORT_BYTES, planSummary } from './import-service.ts';
import { readImportUpload, uploadsWorkWithoutJavaScript } from './import-upload.ts';
import { scopeOf } from './routes.ts';
import { requireAdministrator } from './scope.ts';

const FRAGMENTS = { 'import-content': 'admin/import/_form' };
const PLAN_FRAGMENTS = { 'import-content': 'admin/import/_plan' };
/** Changes listed on the plan page; the counts cover the rest. */
const PLAN_ROWS = 1000;

interface FormValues {
  text: string;
  fileName: string;
}

/** Import and export of the directory file (administrators only): upload or paste, check the plan, apply; download. */
export function importAdminRoutes(services: Services): Router {
  const router = Router();
  const files = services.admin.directoryFiles;

  const common = (res: Response) => ({
    scope: scopeOf(res),
    maxMegabytes: MAX_IMPORT_BYTES / 1024 / 1024,
    uploadsWithoutJs: uploadsWorkWithoutJavaScript(),
    kindLabels: KIND_LABELS,
    actionLabels: ACTION_LABELS,
    planRows: PLAN_ROWS,
  });

  function renderForm(req: Request, res: Response, values: FormValues, options: { errors?: FieldError[]; problems?: Problem[]; status?: number } = {}) {
    render(req, res, 'admin/import/index', { title: 'Import and export', ...common(res), values, errors: options.errors, problems: options.problems ?? [] }, { status: options.status, fragments: FRAGMENTS });
  }

  function renderPlan(req: Request, res: Response, text: string, plan: ImportPlan, fingerprint: string, status = 200, changed = false) {
    render(req, res, 'admin/import/plan', { title: 'Check the changes', ...common(res), file: text, plan, fingerprint, changed, summary: planSummary(plan) }, { status, fragments: PLAN_FRAGMENTS });
  }

  /** Problems of a refused file: a summary at the top linking to the list, which gives each one's JSON path. */
  function refused(req: Request, res: Response, values: FormValues, problems: Problem[]) {
    const n = problems.length;
    const errors = [{ field: 'problems', message: `The file has ${n} problem${n === 1 ? '' : 's'}, so nothing was imported`, href: '#problems' }];
    renderForm(req, res, values, { errors, problems, status: 422 });
  }

  router.get('/admin/import', (req, res) => {
    requireAdministrator(scopeOf(res));
    renderForm(req, res, { text: '', fileName: '' });
  });

  router.post('/admin/import', async (req, res) => {
    requireAdministrator(scopeOf(res));
    const form = new FormBody(await readImportUpload(req));
    const upload = form.text('source') === 'upload';
    const text = upload ? form.raw('file') : form.raw('text');
    const values = { text: upload ? '' : text, fileName: upload ? form.text('fileName') : '' };
    if (!text.trim()) {
      const errors = upload
        ? [{ field: 'file', message: 'Choose a directory file to upload' }]
        : [{ field: 'text', message: 'Paste the contents of a directory file' }];
      renderForm(req, res, values, { errors, status: 422 });
      return;
    }
    const outcome = await files.plan(scopeOf(res), text, actorOf(req));
    if (!outcome.ok) return refused(req, res, values, outcome.problems);
    renderPlan(req, res, text, outcome.plan, outcome.fingerprint);
  });

  router.post('/admin/import/apply', async (req, res) => {
    requireAdministrator(scopeOf(res));
    const form = new FormBody(await readImportUpload(req));
    const text = form.raw('file');
    const fingerprint = form.text('plan');
    if (!text.trim() || !fingerprint) {
      renderForm(req, res, { text: '', fileName: '' }, { errors: [{ field: 'text', message: 'Upload or paste the directory file again, and check its changes before applying them' }], status: 422 });
      return;
    }
    const outcome = await files.apply(scopeOf(res), text, fingerprint, actorOf(req));
    if (outcome.ok === 'changed') return renderPlan(req, res, text, outcome.plan, outcome.fingerprint, 409, true);
    // Refused now (the directory changed since the check): the file comes back in the box, to fix and check again.
    if (!outcome.ok) return refused(req, res, { text, fileName: '' }, outcome.problems);
    const summary = planSummary(outcome.plan);
    redirectWithFlash(req, res, '/admin/import', outcome.applied ? `The directory file was imported. ${summary}.` : 'Nothing was changed: the directory already matches the file.');
  });

  router.get('/admin/export', async (req, res) => {
    const exported = await files.exportFile(scopeOf(res), actorOf(req));
    res.set({
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Disposition': `attachment; filename="${exported.filename}"`,
      'Cache-Control': 'no-store',
    });
    res.send(exported.json);
  });

  return router;
}
