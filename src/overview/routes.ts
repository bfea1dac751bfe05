import { Router } from 'express';
import type { Services } from '../services.ts';
import { render } from '../web/render.ts';

export function overviewRoutes(services: Services): Router {
  const router = Router();
  router.get('/', async (req, res) => {
    const summary = await services.overview.summary(req.user!);
    render(req, res, 'overview/index', { title: 'Overview', summary });
  });
  return router;
}
