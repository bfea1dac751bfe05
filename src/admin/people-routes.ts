import { Router } from 'express';
import type { Services } from '../services.ts';
import { pageRequestFrom } from '../shared/keyset.ts';
import { queryText, uuidParam } from '../shared/params.ts';
import { actorOf } from '../web/actor.ts';
import { listAnnouncement, redirectWithFlash, render } from '../web/render.ts';
import { scopeOf } from './routes.ts';

/** Users and groups (administrators only): search, a person's access and history, a group's members. */
export function peopleAdminRoutes(services: Services): Router {
  const router = Router();
  const people = services.admin.people;

  router.get('/admin/users', async (req, res) => {
    const q = queryText(req, 'q', 200);
    const page = await people.users(scopeOf(res), q, pageRequestFrom(req.query, ['string', 'uuid']));
    render(req, res, 'admin/users/index', { title: 'Users', scope: scopeOf(res), q, page }, { fragments: { 'user-results': 'admin/users/_list' }, announce: listAnnouncement(page, { one: 'user', many: 'users' }, q) });
  });

  router.get('/admin/users/:id', async (req, res) => {
    const view = await people.user(scopeOf(res), uuidParam(req));
    render(req, res, 'admin/users/show', { title: view.user.displayName, scope: scopeOf(res), ...view });
  });

  router.post('/admin/users/:id/unlink-sso', async (req, res) => {
    const id = uuidParam(req);
    const { email, wasLinked } = await people.unlinkSso(scopeOf(res), id, actorOf(req));
    redirectWithFlash(req, res, `/admin/users/${id}`, wasLinked
      ? `Single sign-on unlinked from ${email}. Their next single sign-on links the account to the identity they sign in with.`
      : `${email} was not linked to a single sign-on identity.`);
  });

  router.get('/admin/groups', async (req, res) => {
    const q = queryText(req, 'q', 200);
    const page = await people.groups(scopeOf(res), q, pageRequestFrom(req.query, ['string', 'uuid']));
    render(req, res, 'admin/groups/index', { title: 'Groups', scope: scopeOf(res), q, page }, { fragments: { 'group-results': 'admin/groups/_list' }, announce: listAnnouncement(page, { one: 'group', many: 'groups' }, q) });
  });

  router.get('/admin/groups/:id', async (req, res) => {
    const view = await people.group(scopeOf(res), uuidParam(req), pageRequestFrom(req.query, ['string', 'uuid']));
    render(req, res, 'admin/groups/show', { title: `Group: ${view.group.name}`, scope: scopeOf(res), ...view }, { fragments: { 'member-results': 'admin/groups/_members' }, announce: listAnnouncement(view.page, { one: 'member', many: 'members' }) });
  });

  return router;
}
