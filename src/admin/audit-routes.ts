import { Router, type Request } from 'express';
import type { Services } from '../services.ts';
import { pageRequestFrom } from '../shared/keyset.ts';
import { queryText } from '../shared/params.ts';
import { listAnnouncement, render } from '../web/render.ts';
import { OBJECT_TYPES, type AuditQuery } from './audit-service.ts';
import { scopeOf } from './routes.ts';
import { requireAdministrator } from './scope.ts';

const queryFrom = (req: Request): AuditQuery => ({
  person: queryText(req, 'person', 320),
  action: queryText(req, 'action', 100),
  objectType: queryText(req, 'objectType', 50),
  objectId: queryText(req, 'objectId', 200),
  from: queryText(req, 'from', 20),
  to: queryText(req, 'to', 20),
});

/** The audit log (administrators only): filter, page through, download as CSV. */
export function auditAdminRoutes(services: Services): Router {
  const router = Router();
  const audit = services.admin.audit;

  router.get('/admin/audit', async (req, res) => {
    const listing = await audit.list(scopeOf(res), queryFrom(req), pageRequestFrom(req.query, ['string']));
    render(
      req,
      res,
      'admin/audit/index',
      { title: 'Audit log', scope: scopeOf(res), ...listing, objectTypes: OBJECT_TYPES },
      {
        status: listing.errors.length ? 422 : 200,
        fragments: { 'audit-results': 'admin/audit/_results' },
        announce: listing.page ? listAnnouncement(listing.page, { one: 'entry', many: 'entries' }) : undefined,
      },
    );
  });

  router.get('/admin/audit.csv', async (req, res) => {
    const scope = scopeOf(res);
    requireAdministrator(scope);
    const query = queryFrom(req);
    let started = false;
    const errors = await audit.csv(scope, query, async (chunk) => {
      if (!started) {
        started = true;
        res.status(200);
        res.set({
          'Content-Type': 'text/csv; charset=utf-8',
          'Content-Disposition': `attachment; filename="${audit.csvFilename(scope)}"`,
          'Cache-Control': 'no-store',
        });
      }
      if (res.destroyed) return false;
      if (!res.write(chunk)) {
        // Wait until the client has read what was written, or has gone away.
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      }
      return !res.destroyed;
    });
    if (errors.length) {
      // Filters that the page would refuse: show the page with its messages instead of a file.
      const listing = await audit.list(scope, query, {});
      render(req, res, 'admin/audit/index', { title: 'Audit log', scope, ...listing, objectTypes: OBJECT_TYPES }, { status: 422 });
      return;
    }
    res.end();
  });

  return router;
}
