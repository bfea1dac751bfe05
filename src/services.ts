import type { Knex } from 'knex';
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import { createAccessPackageService } from './access-packages/service.ts';
import { createAssignmentAdmin } from './admin/assignment-service.ts';
import { createAuditAdmin } from './admin/audit-service.ts';
import { createCatalogAdmin } from './admin/catalog-service.ts';
import { createDirectoryFileAdmin } from './admin/import-service.ts';
import { createPeopleAdmin } from './admin/people-service.ts';
import { createRequestAdmin } from './admin/request-admin-service.ts';
import { createReviewAdmin } from './admin/review-service.ts';
import { createPolicyAdmin } from './admin/policy-service.ts';
import { adminScope } from './admin/scope.ts';
import type { CurrentUser } from './auth/current-user.ts';
import { createApprovalService } from './approvals/service.ts';
import { createAuthService } from './auth/service.ts';
import { createRequestService } from './requests/service.ts';
import { createNotifier } from './notifications/notifier.ts';
import { createOverviewService } from './overview/service.ts';
import { createReviewService } from './reviews/service.ts';
import { createViews } from './web/views.ts';

export interface ServiceDeps {
  db: Knex;
  clock: Clock;
  config: Config;
  logger: Logger;
}

/** The one place that wires data access into services. */
export function createServices(deps: ServiceDeps) {
  const views = createViews({ cache: deps.config.env === 'production' });
  const notifier = createNotifier({ clock: deps.clock, baseUrl: deps.config.baseUrl });
  return {
    auth: createAuthService(deps),
    accessPackages: createAccessPackageService(deps),
    requests: createRequestService({ ...deps, notifier }),
    approvals: createApprovalService({ ...deps, notifier }),
    reviews: createReviewService({ ...deps, notifier }),
    overview: createOverviewService(deps),
    notifier,
    /** The templates, for emails rendered when they are sent. */
    views,
    admin: {
      scopeFor: (user: CurrentUser) => adminScope(deps.db, user),
      catalogs: createCatalogAdmin(deps),
      policies: createPolicyAdmin(deps),
      assignments: createAssignmentAdmin({ ...deps, notifier }),
      requests: createRequestAdmin({ ...deps, notifier }),
      people: createPeopleAdmin(deps),
      audit: createAuditAdmin(deps),
      directoryFiles: createDirectoryFileAdmin(deps),
      reviews: createReviewAdmin({ ...deps, notifier }),
    },
  };
}

export type Services = ReturnType<typeof createServices>;
