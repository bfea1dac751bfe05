import { Router } from 'express';
import type { Services } from './services.ts';
import { accessPackageRoutes } from './access-packages/routes.ts';
import { approvalRoutes } from './approvals/routes.ts';
import { overviewRoutes } from './overview/routes.ts';
import { requestRoutes } from './requests/routes.ts';

/** Every page behind sign-in, one router per feature area. */
export function portalRoutes(services: Services): Router {
  const router = Router();
  router.use(overviewRoutes(services));
  router.use(accessPackageRoutes(services));
  router.use(requestRoutes(services));
  router.use(approvalRoutes(services));
  return router;
}
