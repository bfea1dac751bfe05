import { Router } from 'express';
import type { Services } from './services.ts';
import { accessPackageRoutes } from './access-packages/routes.ts';
import { approvalRoutes } from './approvals/routes.ts';
import { adminRoutes } from './admin/routes.ts';
import { catalogAdminRoutes } from './admin/catalog-routes.ts';
import { assignmentAdminRoutes } from './admin/assignment-routes.ts';
import { requestAdminRoutes } from './admin/request-admin-routes.ts';
import { reviewAdminRoutes } from './admin/review-routes.ts';
import { peopleAdminRoutes } from './admin/people-routes.ts';
import { auditAdminRoutes } from './admin/audit-routes.ts';
import { importAdminRoutes } from './admin/import-routes.ts';
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
  router.use(
    adminRoutes(services, [
      catalogAdminRoutes(services),
      assignmentAdminRoutes(services),
      requestAdminRoutes(services),
      peopleAdminRoutes(services),
      auditAdminRoutes(services),
      importAdminRoutes(services),
      reviewAdminRoutes(services),
    ]),
  );
  router.use(reviewRoutes(services));
  return router;
}
