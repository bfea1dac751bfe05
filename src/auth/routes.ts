import { Router, type NextFunction, type Request, type Response } from 'express';
import type { PassportStatic } from 'passport';
import { FieldErrors, HttpError } from '../errors.ts';
import type { OidcSignIn } from './oidc.ts';
import { actorOf } from '../web/actor.ts';
import { FormBody } from '../web/forms.ts';
import { render } from '../web/render.ts';
import type { AuthService, PasswordSignInResult } from './service.ts';
import { safeReturnTo } from './return-to.ts';

const SIGN_IN_VIEW = 'auth/sign-in';
const CHOOSE_DIRECTORY_VIEW = 'auth/choose-directory';
const SSO_VIEW = 'auth/sso';

const unknownDirectory = (hint: string) =>
  new HttpError(404, 'Directory not found', `Portico has no directory called “${hint.slice(0, 200)}”. Check the link you followed, or ask the person who sent it.`);
const PENDING_SIGN_IN_MS = 5 * 60 * 1000;

export function authRoutes(auth: AuthService, passport: PassportStatic, oidc: OidcSignIn): Router {
  const router = Router();

  /** Signs the person in; false when the account can no longer sign in (disabled or removed meanwhile). */
  const logIn = async (req: Request, userId: string, method: string): Promise<boolean> => {
    const user = await auth.loadCurrentUser(userId);
    if (!user) return false;
    await new Promise<void>((resolve, reject) => {
      // passport >= 0.6 regenerates the session here, so a session id fixed before sign-in is worthless.
      req.login(user, (err) => (err ? reject(err) : resolve()));
    });
    req.session.signedInAt = Date.now();
    await auth.completeSignIn(userId, actorOf(req), method);
    // Saved before the redirect is answered: the next page must find the sign-in time in the session.
    await new Promise<void>((resolve, reject) => req.session.save((err) => (err ? reject(err) : resolve())));
    return true;
  };
  const accountGone = () => new Error('the account can no longer sign in: it was disabled or removed while signing in');

  /** The sign-in page, for any directory or, from a directory-hint link, for one (which may use single sign-on). */
  router.get('/sign-in', async (req, res) => {
    const returnTo = safeReturnTo(req.query.returnTo);
    const hint = typeof req.query.directory === 'string' ? req.query.directory.toLowerCase() : '';
    const directory = hint ? await auth.directoryByHint(hint) : null;
    if (req.user && (!directory || req.user.directory.id === directory.id)) return res.redirect(303, returnTo);
    if (directory?.signIn?.oidc) {
      return res.redirect(303, `/sign-in/oidc/${encodeURIComponent(directory.hint)}?${new URLSearchParams({ returnTo, force: req.query.force === '1' ? '1' : '0' })}`);
    }
    await allowSsoRedirects(res, oidc);
    render(req, res, SIGN_IN_VIEW, {
      values: { email: '' },
      returnTo,
      directory,
      notice: req.query.signedOut === '1' ? 'You have signed out.' : undefined,
    });
  });

  router.post('/sign-in', async (req: Request, res: Response, next: NextFunction) => {
    const form = FormBody.of(req);
    const email = form.text('email');
    const password = form.raw('password');
    const returnTo = safeReturnTo(form.text('returnTo'));
    const hint = form.text('directory').toLowerCase();
    const directory = hint ? await auth.directoryByHint(hint) : null;
    const errors = new FieldErrors();
    if (!email) errors.add('email', 'Enter your email address');
    else if (email.length > 320 || !email.includes('@')) errors.add('email', 'Enter an email address in the correct format, like name@example.com');
    if (!password) errors.add('password', 'Enter your password');
    else if (password.length > 1024) errors.add('password', 'Enter a correct email address and password');
    if (errors.any) {
      return render(req, res, SIGN_IN_VIEW, { values: { email }, returnTo, directory, errors: errors.toArray() }, { status: 422 });
    }
    passport.authenticate('local', async (err: unknown, user: Express.User | false, info?: PasswordSignInResult) => {
      try {
        if (err) return next(err);
        if (user) {
          if (!(await logIn(req, user.id, 'password'))) throw accountGone();
          return res.redirect(303, returnTo);
        }
        if (info?.kind === 'throttled') {
          const when = info.until.toISOString().slice(11, 16);
          const throttled = new FieldErrors().add('email', `Too many failed attempts to sign in. Wait until ${when} UTC, then try again.`);
          res.set('Retry-After', String(Math.max(1, Math.ceil((info.until.getTime() - Date.now()) / 1000))));
          return render(req, res, SIGN_IN_VIEW, { values: { email }, returnTo, directory, errors: throttled.toArray() }, { status: 429 });
        }
        if (info?.kind === 'chooseDirectory') {
          req.session.pendingSignIn = { userIds: info.userIds, returnTo, at: Date.now() };
          return res.redirect(303, '/sign-in/directory');
        }
        const failed = new FieldErrors().add('email', 'Enter a correct email address and password');
        render(req, res, SIGN_IN_VIEW, { values: { email }, returnTo, directory, errors: failed.toArray() }, { status: 401 });
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
    if (await logIn(req, chosen, 'password')) return res.redirect(303, returnTo);
    // Disabled while the person was choosing: as if the password had not matched there.
    const failed = new FieldErrors().add('email', 'Enter a correct email address and password');
    render(req, res, SIGN_IN_VIEW, { values: { email: '' }, returnTo, directory: null, errors: failed.toArray() }, { status: 401 });
  });

  // ---- single sign-on ------------------------------------------------------------------------

  router.get('/sign-in/sso', async (req, res) => {
    const returnTo = safeReturnTo(req.query.returnTo);
    await allowSsoRedirects(res, oidc);
    if (typeof req.query.directory !== 'string') return render(req, res, SSO_VIEW, { title: 'Sign in with single sign-on', values: { directory: '' }, returnTo });
    const hint = req.query.directory.trim().toLowerCase().slice(0, 200);
    const dir = hint ? await oidc.directory(hint) : null;
    if (!dir) {
      const errors = new FieldErrors().add('directory', hint ? `No directory called “${hint}” signs in with single sign-on. Check the name, or sign in with your email address and password.` : 'Enter the name of your organization’s directory, like contoso.com');
      return render(req, res, SSO_VIEW, { title: 'Sign in with single sign-on', values: { directory: hint }, returnTo, errors: errors.toArray() }, { status: 422 });
    }
    res.redirect(303, `/sign-in/oidc/${encodeURIComponent(dir.hint)}?${new URLSearchParams({ returnTo })}`);
  });

  router.get('/sign-in/oidc/:hint', async (req, res, next) => {
    const hint = String(req.params.hint).toLowerCase();
    const dir = await oidc.directory(hint);
    if (!dir) {
      // A directory that signs in with passwords: its own sign-in page, not "no such directory".
      const passwords = await auth.directoryByHint(hint);
      if (!passwords) throw unknownDirectory(hint);
      return res.redirect(303, `/sign-in?${new URLSearchParams({ directory: passwords.hint, returnTo: safeReturnTo(req.query.returnTo) })}`);
    }
    req.session.returnTo = safeReturnTo(req.query.returnTo);
    const name = await oidc.strategyFor(dir);
    passport.authenticate(name, { forceLogin: req.query.force === '1' } as object)(req, res, next);
  });

  router.get('/sign-in/oidc/:hint/callback', async (req, res, next) => {
    const dir = await oidc.directory(String(req.params.hint).toLowerCase());
    if (!dir) throw unknownDirectory(String(req.params.hint));
    const name = await oidc.strategyFor(dir);
    const returnTo = safeReturnTo(req.session.returnTo);
    passport.authenticate(name, async (err: unknown, user: Express.User | false, info?: { message?: string; email?: string }) => {
      try {
        if (err || !user) {
          if (err) req.log?.warn({ err }, 'single sign-on callback refused');
          await auth.recordSignInFailure(actorOf(req), dir.id, { method: 'oidc', email: info?.email ?? null, reason: err ? 'invalid response' : (info?.message ?? 'refused') });
          // Refusals about the account (403) say what the provider confirmed; anything else is an answer that could not be verified (400).
          const refusals: Record<string, { title: string; message: string }> = {
            unknownAccount: {
              title: 'No account in this directory',
              message: `${dir.name} confirmed that you are ${info?.email}, but Portico has no account for that address in ${dir.name}. Ask your administrator to add you, or sign in with another account.`,
            },
            otherIdentity: {
              title: 'This account signs in with another identity',
              message: `${dir.name} confirmed that you are ${info?.email}, but the Portico account for that address signs in with another ${dir.name} identity. If your account at ${dir.name} was replaced, ask your Portico administrator to unlink single sign-on from your Portico account.`,
            },
            identityTaken: {
              title: 'This identity belongs to another account',
              message: `${dir.name} confirmed that you are ${info?.email}, but your ${dir.name} identity already signs in to another Portico account. Ask your Portico administrator to check which account is yours.`,
            },
          };
          const refusal = !err && info?.message && Object.hasOwn(refusals, info.message) ? refusals[info.message] : undefined;
          return render(req, res, 'auth/sso-failed', {
            title: refusal?.title ?? 'Sign-in could not be completed',
            message: refusal?.message ?? 'The answer from your organization’s sign-in service could not be verified, so you are not signed in. Start again from the link you were given.',
            retry: `/sign-in/oidc/${encodeURIComponent(dir.hint)}?${new URLSearchParams({ returnTo, force: '1' })}`,
            otherWay: `/sign-in?${new URLSearchParams({ returnTo })}`,
          }, { status: refusal ? 403 : 400 });
        }
        if (!(await logIn(req, user.id, 'oidc'))) throw accountGone();
        res.redirect(303, returnTo);
      } catch (e) {
        next(e);
      }
    })(req, res, next);
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

/**
 * A sign-in form may end, through redirects, at a directory's OpenID Connect provider; browsers
 * apply the page's CSP form-action to those redirects, so the page allows the providers' origins.
 */
async function allowSsoRedirects(res: Response, oidc: OidcSignIn): Promise<void> {
  const origins = await oidc.issuerOrigins();
  const csp = res.getHeader('Content-Security-Policy');
  if (origins.length && typeof csp === 'string') {
    res.setHeader('Content-Security-Policy', csp.replace("form-action 'self'", `form-action 'self' ${origins.join(' ')}`));
  }
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

/**
 * Directory-hint links: /@<hint>/access-packages/<id> (and /@<hint> alone) always ask the person
 * to sign in again to that directory, even with a live session, then go to the package (or
 * Access packages). Other /@<hint>/... paths, used in emails, sign in only when needed.
 */
export function directoryLinkRoutes(auth: AuthService): Router {
  const router = Router();
  const handle = async (req: Request, res: Response, next: NextFunction) => {
    const hint = String(req.params.hint).toLowerCase();
    const directory = await auth.directoryByHint(hint);
    if (!directory) return next(unknownDirectory(hint));
    const rest = (req.params as { rest?: string[] }).rest;
    const path = rest?.length ? `/${rest.map(encodeURIComponent).join('/')}` : '/access-packages';
    const forced = !rest?.length || /^\/access-packages\/[0-9a-f-]{36}\/?$/i.test(path);
    // The query goes along: a shared /@hint/access-packages?q=payroll lands on that search.
    const query = req.originalUrl.indexOf('?');
    // A query that is too long or odd to go along is dropped, not the whole link.
    const withQuery = query === -1 ? '/' : safeReturnTo(path + req.originalUrl.slice(query));
    const target = withQuery !== '/' ? withQuery : safeReturnTo(path);
    if (req.user && req.user.directory.id === directory.id && !forced) return res.redirect(303, target);
    const signInUrl = `/sign-in?${new URLSearchParams({ directory: directory.hint, returnTo: target, force: forced ? '1' : '0' })}`;
    if (!req.user) return res.redirect(303, signInUrl);
    // A fresh sign-in: the current session ends (a new one, with a new id, starts at sign-in).
    await auth.recordSignOut(req.user, actorOf(req));
    req.logout((err) => {
      if (err) return next(err);
      res.redirect(303, signInUrl);
    });
  };
  router.get('/@:hint', handle);
  router.get('/@:hint/*rest', handle);
  return router;
}
