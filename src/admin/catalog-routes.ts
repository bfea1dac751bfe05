import { Router, type Request, type Response } from 'express';
import { ValidationFailed } from '../errors.ts';
import type { Services } from '../services.ts';
import { uuidParam } from '../shared/params.ts';
import { StaleForm } from './form-version.ts';
import { actorOf } from '../web/actor.ts';
import { FormBody } from '../web/forms.ts';
import { redirectWithFlash, render } from '../web/render.ts';
import type { CatalogInput, PackageInput, ResourceInput } from './catalog-service.ts';
import { applyFormAction, MAX_STAGES, PolicyFormInvalid, readPolicyForm, type FilePolicy } from './policy-form.ts';
import { scopeOf } from './routes.ts';
import { adminNotFound } from './scope.ts';
import { PACKAGE_CHECKBOXES_MAX, PACKAGE_MATCHES_MAX } from './data.ts';

const lines = (text: string) =>
  text
    .split(/\r?\n|,/)
    .map((l) => l.trim())
    .filter(Boolean);

const readCatalog = (form: FormBody): CatalogInput => ({
  name: form.text('name'),
  description: form.text('description'),
  enabled: form.text('enabled') === 'yes',
  owners: lines(form.raw('owners')).map((e) => e.toLowerCase()),
  version: form.text('version'),
});

const readResource = (form: FormBody): ResourceInput => ({
  key: form.text('key'),
  type: form.text('type'),
  name: form.text('name'),
  description: form.text('description'),
  url: form.text('url'),
  roles: lines(form.raw('roles').replace(/,/g, '\n')),
  version: form.text('version'),
});

const readPackage = (form: FormBody): PackageInput => ({
  name: form.text('name'),
  description: form.text('description'),
  hidden: form.text('hidden') === 'yes',
  resourceRoles: form.list('resourceRoles').filter(Boolean),
  incompatibleWith: form.list('incompatibleWith').filter(Boolean),
  version: form.text('version'),
});

/** Catalogs, their resources and access packages, and the policy editor. */
export function catalogAdminRoutes(services: Services): Router {
  const router = Router();
  const { catalogs, policies } = services.admin;

  /**
   * Runs a save; on refused input re-renders the form with the messages, the typed values and 422.
   * A form opened before someone else saved the same object comes back showing it as it is now, 409.
   */
  const saving = async (res: Response, save: () => Promise<void>, rerender: (errors: ValidationFailed['errors']) => Promise<void>, showCurrent?: (errors: ValidationFailed['errors']) => Promise<void>) => {
    try {
      await save();
    } catch (err) {
      if (err instanceof StaleForm && showCurrent) {
        res.status(409);
        return showCurrent([{ field: 'form', message: err.message, href: '#main' }]);
      }
      if (!(err instanceof ValidationFailed)) throw err;
      res.status(422);
      await rerender(err.errors);
    }
  };

  // ---- catalogs ---------------------------------------------------------------------------
  router.get('/admin/catalogs/new', (req, res) => {
    const scope = scopeOf(res);
    if (!scope.isAdmin) throw adminNotFound();
    render(req, res, 'admin/catalogs/new', { title: 'Create a catalog', scope, values: { name: '', description: '', enabled: true, owners: [] } });
  });

  router.post('/admin/catalogs', async (req, res) => {
    const scope = scopeOf(res);
    const input = readCatalog(FormBody.of(req));
    await saving(
      res,
      async () => {
        const id = await catalogs.saveCatalog(scope, null, input, actorOf(req));
        redirectWithFlash(req, res, `/admin/catalogs/${id}`, `Catalog ${input.name} created.`);
      },
      async (errors) => render(req, res, 'admin/catalogs/new', { title: 'Create a catalog', scope, values: input, errors }, { status: 422 }),
    );
  });

  const showCatalog = async (req: Request, res: Response, id: string, extra: { values?: CatalogInput; errors?: ValidationFailed['errors']; status?: number } = {}) => {
    const scope = scopeOf(res);
    const data = await catalogs.get(scope, id);
    const version = extra.values?.version || data.version;
    render(req, res, 'admin/catalogs/show', { title: data.catalog.name, scope, ...data, version, values: extra.values ?? data.catalog, errors: extra.errors }, { status: extra.status ?? (extra.errors ? 422 : 200) });
  };

  router.get('/admin/catalogs/:id', (req, res) => showCatalog(req, res, uuidParam(req)));

  router.post('/admin/catalogs/:id', async (req, res) => {
    const id = uuidParam(req);
    const input = readCatalog(FormBody.of(req));
    await saving(
      res,
      async () => {
        await catalogs.saveCatalog(scopeOf(res), id, input, actorOf(req));
        redirectWithFlash(req, res, `/admin/catalogs/${id}`, `Catalog ${input.name} saved.`);
      },
      (errors) => showCatalog(req, res, id, { values: input, errors }),
      (errors) => showCatalog(req, res, id, { errors, status: 409 }),
    );
  });

  // ---- resources --------------------------------------------------------------------------
  const resourceForm = async (req: Request, res: Response, catalogId: string, resourceId: string | null, extra: { values?: ResourceInput; errors?: ValidationFailed['errors']; status?: number } = {}) => {
    const scope = scopeOf(res);
    // The version is read before what the form shows (see catalogs.get).
    const current = resourceId ? await catalogs.resourceVersion(resourceId) : '';
    const { catalog, resources } = await catalogs.get(scope, catalogId);
    const resource = resourceId ? resources.find((r) => r.id === resourceId) : null;
    if (resourceId && !resource) throw adminNotFound();
    const values = extra.values ?? (resource ? { ...resource, url: resource.url ?? '', roles: resource.roles } : { key: '', type: 'application', name: '', description: '', url: '', roles: ['Member'] });
    const version = extra.values?.version || current;
    render(req, res, 'admin/resources/form', { title: resource ? `Resource ${resource.name}` : 'Add a resource', scope, catalog, resource, version, values, errors: extra.errors }, { status: extra.status ?? (extra.errors ? 422 : 200) });
  };

  router.get('/admin/catalogs/:id/resources/new', (req, res) => resourceForm(req, res, uuidParam(req), null));
  router.get('/admin/catalogs/:id/resources/:resourceId', (req, res) => resourceForm(req, res, uuidParam(req), uuidParam(req, 'resourceId')));

  for (const path of ['/admin/catalogs/:id/resources/new', '/admin/catalogs/:id/resources/:resourceId']) {
    router.post(path, async (req, res) => {
      const catalogId = uuidParam(req);
      const resourceId = req.params.resourceId ? uuidParam(req, 'resourceId') : null;
      const input = readResource(FormBody.of(req));
      await saving(
        res,
        async () => {
          await catalogs.saveResource(scopeOf(res), catalogId, resourceId, input, actorOf(req));
          redirectWithFlash(req, res, `/admin/catalogs/${catalogId}`, `Resource ${input.name} saved.`);
        },
        (errors) => resourceForm(req, res, catalogId, resourceId, { values: input, errors }),
        (errors) => resourceForm(req, res, catalogId, resourceId, { errors, status: 409 }),
      );
    });
  }

  router.post('/admin/catalogs/:id/resources/:resourceId/remove', async (req, res) => {
    const catalogId = uuidParam(req);
    const resourceId = uuidParam(req, 'resourceId');
    await saving(
      res,
      async () => {
        await catalogs.removeResource(scopeOf(res), catalogId, resourceId, actorOf(req));
        redirectWithFlash(req, res, `/admin/catalogs/${catalogId}`, 'Resource removed.');
      },
      (errors) => resourceForm(req, res, catalogId, resourceId, { errors }),
    );
  });

  // ---- access packages --------------------------------------------------------------------
  router.get('/admin/catalogs/:id/access-packages/new', async (req, res) => {
    const scope = scopeOf(res);
    const { catalog, resources } = await catalogs.get(scope, uuidParam(req));
    render(req, res, 'admin/packages/new', { title: 'Create an access package', scope, catalog, resources, values: { name: '', description: '', hidden: false, resourceRoles: [], incompatibleWith: [] } });
  });

  router.post('/admin/catalogs/:id/access-packages', async (req, res) => {
    const scope = scopeOf(res);
    const catalogId = uuidParam(req);
    const input = readPackage(FormBody.of(req));
    await saving(
      res,
      async () => {
        const id = await catalogs.savePackage(scope, catalogId, null, input, actorOf(req));
        redirectWithFlash(req, res, `/admin/access-packages/${id}`, `Access package ${input.name} created. Add a policy so that people can request it.`);
      },
      async (errors) => {
        const { catalog, resources } = await catalogs.get(scope, catalogId);
        render(req, res, 'admin/packages/new', { title: 'Create an access package', scope, catalog, resources, values: input, errors }, { status: 422 });
      },
    );
  });

  const showPackage = async (req: Request, res: Response, id: string, extra: { values?: PackageInput; errors?: ValidationFailed['errors']; status?: number; find?: string } = {}) => {
    const scope = scopeOf(res);
    const data = await catalogs.getPackage(scope, id, extra.values?.incompatibleWith, extra.find);
    const values = extra.values ?? { ...data.pkg, resourceRoles: data.selectedRoles, incompatibleWith: data.incompatible };
    // Shown again with errors, the form keeps the version it was opened at.
    const version = extra.values?.version || data.version;
    render(req, res, 'admin/packages/show', { title: data.pkg.name, scope, ...data, version, values, errors: extra.errors, find: extra.find ?? null, packageCheckboxesMax: PACKAGE_CHECKBOXES_MAX, packageMatchesMax: PACKAGE_MATCHES_MAX }, { status: extra.status ?? (extra.errors ? 422 : 200) });
  };

  router.get('/admin/access-packages/:id', (req, res) => showPackage(req, res, uuidParam(req)));

  router.post('/admin/access-packages/:id', async (req, res) => {
    const id = uuidParam(req);
    const form = FormBody.of(req);
    const input = readPackage(form);
    // "Find" in the incompatible-packages picker: the form is drawn again with what was typed, and
    // saved only by Save. Enter in a field presses the form's first button ("default"): a Find when
    // the find field holds words not yet looked for (without JavaScript, Enter there means Find).
    const find = form.text('incompatibleFind').trim().slice(0, 200);
    const action = form.text('action');
    if (action === 'findIncompatible' || (action === 'default' && find && find !== form.text('incompatibleFoundFor'))) {
      return showPackage(req, res, id, { values: input, find });
    }
    await saving(
      res,
      async () => {
        const { pkg } = await catalogs.getPackage(scopeOf(res), id);
        await catalogs.savePackage(scopeOf(res), pkg.catalogId, id, input, actorOf(req));
        redirectWithFlash(req, res, `/admin/access-packages/${id}`, `Access package ${input.name} saved.`);
      },
      (errors) => showPackage(req, res, id, { values: input, errors }),
      (errors) => showPackage(req, res, id, { errors, status: 409 }),
    );
  });

  router.get('/admin/access-packages/:id/remove', async (req, res) => {
    const { pkg } = await catalogs.getPackage(scopeOf(res), uuidParam(req));
    render(req, res, 'admin/confirm-remove', { title: `Remove ${pkg.name}`, scope: scopeOf(res), what: `the access package ${pkg.name}`, action: `/admin/access-packages/${pkg.id}/remove`, back: `/admin/access-packages/${pkg.id}`, warning: 'Its policies go with it. A package that has ever been requested or assigned cannot be removed: its history stays.' });
  });

  router.post('/admin/access-packages/:id/remove', async (req, res) => {
    const id = uuidParam(req);
    await saving(
      res,
      async () => {
        const catalogId = await catalogs.removePackage(scopeOf(res), id, actorOf(req));
        redirectWithFlash(req, res, `/admin/catalogs/${catalogId}`, 'Access package removed.');
      },
      (errors) => showPackage(req, res, id, { errors }),
    );
  });

  // ---- policies ---------------------------------------------------------------------------
  const policyPage = async (req: Request, res: Response, packageId: string, policyId: string | null, extra: { policy?: FilePolicy; version?: string; errors?: ValidationFailed['errors']; status?: number; announce?: string; focus?: string } = {}) => {
    const scope = scopeOf(res);
    const editor = await policies.editor(scope, packageId, policyId);
    const policy = extra.policy ?? editor.policy;
    // Drawn again (a part added, an error), the form keeps the version it was opened at.
    const version = extra.version || ('version' in editor ? editor.version : '');
    render(req, res, 'admin/policies/form', { title: policyId ? `Policy ${editor.policy.name}` : 'Add a policy', scope, pkg: editor.pkg, groups: editor.groups, policy, policyId, version, maxStages: MAX_STAGES, errors: extra.errors, focus: extra.focus }, {
      status: extra.status ?? (extra.errors ? 422 : 200),
      fragments: { 'policy-form': 'admin/policies/_form' },
      announce: extra.announce,
    });
  };

  router.get('/admin/access-packages/:id/policies/new', (req, res) => policyPage(req, res, uuidParam(req), null));
  router.get('/admin/access-packages/:id/policies/:policyId', (req, res) => policyPage(req, res, uuidParam(req), uuidParam(req, 'policyId')));

  for (const path of ['/admin/access-packages/:id/policies/new', '/admin/access-packages/:id/policies/:policyId']) {
    router.post(path, async (req, res) => {
      const packageId = uuidParam(req);
      const policyId = req.params.policyId ? uuidParam(req, 'policyId') : null;
      let read: ReturnType<typeof readPolicyForm>;
      const version = FormBody.of(req).text('version');
      try {
        read = readPolicyForm(FormBody.of(req));
      } catch (err) {
        if (err instanceof PolicyFormInvalid) return policyPage(req, res, packageId, policyId, { policy: err.policy, version, errors: err.errors });
        throw err;
      }
      if (read.action !== 'save') {
        // Add, remove or move a part of the form: draw it again, save nothing.
        const [verb] = read.action.split('-');
        const announcements: Record<string, string> = {
          addStage: 'Stage added.', removeStage: 'Stage removed.', addQuestion: 'Question added.', removeQuestion: 'Question removed.',
          moveQuestionUp: 'Question moved up.', moveQuestionDown: 'Question moved down.', addAttribute: 'Requestor attribute added.', removeAttribute: 'Requestor attribute removed.',
        };
        return policyPage(req, res, packageId, policyId, { policy: applyFormAction(read.policy, read.action), version, announce: announcements[verb] ?? 'The form was updated.', focus: read.action });
      }
      await saving(
        res,
        async () => {
          await policies.save(scopeOf(res), packageId, policyId, read.policy, actorOf(req), version);
          redirectWithFlash(req, res, `/admin/access-packages/${packageId}`, `Policy ${read.policy.name} saved. Requests already made keep the settings they were made under.`, { fullPage: true });
        },
        (errors) => policyPage(req, res, packageId, policyId, { policy: read.policy, version, errors }),
        (errors) => policyPage(req, res, packageId, policyId, { errors, status: 409 }),
      );
    });
  }

  router.get('/admin/access-packages/:id/policies/:policyId/remove', async (req, res) => {
    const packageId = uuidParam(req);
    const policyId = uuidParam(req, 'policyId');
    const editor = await policies.editor(scopeOf(res), packageId, policyId);
    render(req, res, 'admin/confirm-remove', { title: `Remove policy ${editor.policy.name}`, scope: scopeOf(res), what: `the policy ${editor.policy.name}`, action: `/admin/access-packages/${packageId}/policies/${policyId}/remove`, back: `/admin/access-packages/${packageId}/policies/${policyId}`, warning: 'A policy that requests or assignments were made under cannot be removed; stop it taking new requests instead (untick “Accepting requests”).' });
  });

  router.post('/admin/access-packages/:id/policies/:policyId/remove', async (req, res) => {
    const packageId = uuidParam(req);
    const policyId = uuidParam(req, 'policyId');
    await saving(
      res,
      async () => {
        await policies.remove(scopeOf(res), packageId, policyId, actorOf(req));
        redirectWithFlash(req, res, `/admin/access-packages/${packageId}`, 'Policy removed.');
      },
      (errors) => policyPage(req, res, packageId, policyId, { errors }),
    );
  });

  return router;
}
