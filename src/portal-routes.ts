import { Router } from 'express';
import type { Services } from './services.ts';
import { accessPackageRoutes } from './access-packages/routes.ts';
import { approvalRoutes } from './approvals/routes.ts';
import { adminRoutes } from './admin/routes.ts';
import { catalogAdminRoutes } from './admin/catalog-routes.ts';
import { overviewRoutes } from './overview/routes.ts';
import { requestRoutes } from './requests/routes.ts';
import { reviewRoutes } from './reviews/routes.ts';

/** Every page behind sign-in, one router per feature area. */
export function portalRoutes(services: Services): Router {
  const router = Router();
  router.use(overviewRoutes(services));
  router.use(accessPackageRoutes(services));
  router.use(requestRoutes(services));
  router.use(approvalRoutes(services));
  router.use(adminRoutes(services, [catalogAdminRoutes(services)]));
  router.use(reviewRoutes(services));
  return router;
}
