import { Router, type NextFunction, type Request, type Response } from 'express';
import type { PassportStatic } from 'passport';
import { FieldErrors } from '../errors.ts';
import { actorOf } from '../web/actor.ts';
import { FormBody } from '../web/forms.ts';
import { render } from '../web/render.ts';
import type { AuthService, PasswordSignInResult } from './service.ts';
import { safeReturnTo } from './return-to.ts';

const SIGN_IN_VIEW = 'auth/sign-in';
const CHOOSE_DIRECTORY_VIEW = 'auth/choose-directory';
const PENDING_SIGN_IN_MS = 5 * 60 * 1000;

export function authRoutes(auth: AuthService, passport: PassportStatic): Router {
  const router = Router();

  const logIn = async (req: Request, userId: string, method: string) => {
    const user = await auth.loadCurrentUser(userId);
    if (!user) throw new Error('the account disappeared while signing in');
    await new Promise<void>((resolve, reject) => {
      // passport >= 0.6 regenerates the session here, so a session id fixed before sign-in is worthless.
      req.login(user, (err) => (err ? reject(err) : resolve()));
    });
    req.session.signedInAt = Date.now();
    await auth.completeSignIn(userId, actorOf(req), method);
  };

  router.get('/sign-in', (req, res) => {
    const returnTo = safeReturnTo(req.query.returnTo);
    if (req.user) return res.redirect(303, returnTo);
    render(req, res, SIGN_IN_VIEW, { values: { email: '' }, returnTo });
  });

  router.post('/sign-in', async (req: Request, res: Response, next: NextFunction) => {
    const form = FormBody.of(req);
    const email = form.text('email');
    const password = form.raw('password');
    const returnTo = safeReturnTo(form.text('returnTo'));
    const errors = new FieldErrors();
    if (!email) errors.add('email', 'Enter your email address');
    else if (email.length > 320 || !email.includes('@')) errors.add('email', 'Enter an email address in the correct format, like name@example.com');
    if (!password) errors.add('password', 'Enter your password');
    else if (password.length > 1024) errors.add('password', 'Enter a correct email address and password');
    if (errors.any) {
      return render(req, res, SIGN_IN_VIEW, { values: { email }, returnTo, errors: errors.toArray() }, { status: 422 });
    }
    passport.authenticate('local', async (err: unknown, user: Express.User | false, info?: PasswordSignInResult) => {
      try {
        if (err) return next(err);
        if (user) {
          await logIn(req, user.id, 'password');
          return res.redirect(303, returnTo);
        }
        if (info?.kind === 'chooseDirectory') {
          req.session.pendingSignIn = { userIds: info.userIds, returnTo, at: Date.now() };
          return res.redirect(303, '/sign-in/directory');
        }
        const failed = new FieldErrors().add('email', 'Enter a correct email address and password');
        render(req, res, SIGN_IN_VIEW, { values: { email }, returnTo, errors: failed.toArray() }, { status: 401 });
      } catch (e) {
        next(e);
      }
    })(req, res, next);
  });

  const pending = (req: Request) => {
    const p = req.session.pendingSignIn;
    return p && Date.now() - p.at < PENDING_SIGN_IN_MS ? p : undefined;
  };

  router.get('/sign-in/directory', async (req, res) => {
    const p = pending(req);
    if (!p) return res.redirect(303, '/sign-in');
    render(req, res, CHOOSE_DIRECTORY_VIEW, { accounts: await auth.directoriesOf(p.userIds) });
  });

  router.post('/sign-in/directory', async (req, res) => {
    const p = pending(req);
    if (!p) return res.redirect(303, '/sign-in');
    const chosen = FormBody.of(req).text('account');
    if (!p.userIds.includes(chosen)) {
      const errors = new FieldErrors().add('account', 'Choose the directory to sign in to', '#account');
      return render(req, res, CHOOSE_DIRECTORY_VIEW, { accounts: await auth.directoriesOf(p.userIds), errors: errors.toArray() }, { status: 422 });
    }
    const returnTo = p.returnTo;
    delete req.session.pendingSignIn;
    await logIn(req, chosen, 'password');
    res.redirect(303, returnTo);
  });

  router.post('/sign-out', async (req, res, next) => {
    const user = req.user;
    if (user) await auth.recordSignOut(user, actorOf(req));
    req.logout((err) => {
      if (err) return next(err);
      // Destroy the server-side session, not just the login inside it.
      req.session.destroy((destroyErr) => {
        if (destroyErr) return next(destroyErr);
        res.clearCookie(req.app.locals.sessionCookieName as string, { path: '/' });
        res.redirect(303, '/sign-in?signedOut=1');
      });
    });
  });

  return router;
}

/** Sends people who are not signed in to the sign-in page, remembering where they were going. */
export function requireSignIn(req: Request, res: Response, next: NextFunction): void {
  if (req.user) return next();
  const target = req.method === 'GET' ? req.originalUrl : '/';
  const location = `/sign-in?returnTo=${encodeURIComponent(target)}`;
  if (req.get('HX-Request') === 'true') {
    res.set('HX-Redirect', location).status(401).end();
    return;
  }
  res.redirect(303, location);
}
