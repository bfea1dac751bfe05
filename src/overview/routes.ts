import { Router } from 'express';
import type { Services } from '../services.ts';
import { render } from '../web/render.ts';

export function overviewRoutes(_services: Services): Router {
  const router = Router();
  router.get('/', (req, res) => render(req, res, 'overview/index', { title: 'Overview' }));
  return router;
}
