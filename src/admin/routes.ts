import { Router, type NextFunction, type Request, type Response } from 'express';
import type { Services } from '../services.ts';
import { pageRequestFrom } from '../shared/keyset.ts';
import { queryText } from '../shared/params.ts';
import { listAnnouncement, render } from '../web/render.ts';
import type { AdminScope } from './scope.ts';

declare module 'express-serve-static-core' {
  interface Locals {
    adminScope?: AdminScope;
  }
}

/** The scope of the signed-in administrator or catalog owner; everyone else gets 404 for every admin page. */
export function requireAdminScope(services: Services) {
  return async (req: Request, res: Response, next: NextFunction) => {
    res.locals.adminScope = await services.admin.scopeFor(req.user!);
    next();
  };
}

export const scopeOf = (res: Response): AdminScope => res.locals.adminScope!;

/** Administration: one router per area, all behind the admin scope. */
export function adminRoutes(services: Services, areas: Router[]): Router {
  const router = Router();
  router.use('/admin', requireAdminScope(services));
  router.get('/admin', async (req, res) => {
    const scope = scopeOf(res);
    const q = queryText(req, 'q', 200);
    const page = await services.admin.catalogs.list(scope, q, pageRequestFrom(req.query, ['string', 'uuid']));
    render(req, res, 'admin/index', { title: 'Administration', scope, q, page }, { fragments: { 'catalog-results': 'admin/catalogs/_list' }, announce: listAnnouncement(page, { one: 'catalog', many: 'catalogs' }, q) });
  });
  for (const area of areas) router.use(area);
  return router;
}
