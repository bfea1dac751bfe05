import compression from 'compression';
import express, { type Express } from 'express';
import session from 'express-session';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import { createPassport } from './auth/passport.ts';
import { authRoutes, directoryLinkRoutes, requireSignIn } from './auth/routes.ts';
import { createOidcSignIn } from './auth/oidc.ts';
import { importUploadParser } from './admin/import-upload.ts';
import type { Services } from './services.ts';
import { loadAssets } from './web/assets.ts';
import { csrfProtection } from './web/csrf.ts';
import { errorHandler, notFoundHandler } from './web/error-handler.ts';
import { DatabaseSessionStore } from './web/session-store.ts';
import { createViews, templateHelpers } from './web/views.ts';
import { portalRoutes } from './portal-routes.ts';

export interface AppDeps {
  config: Config;
  db: Knex;
  clock: Clock;
  logger: Logger;
  services: Services;
}

export const SESSION_IDLE_MS = 60 * 60 * 1000;
export const SESSION_ABSOLUTE_MS = 12 * 60 * 60 * 1000;

export function createApp(deps: AppDeps): Express {
  const { config, db, clock, logger, services } = deps;
  const production = config.env === 'production';
  const app = express();
  const assets = loadAssets();
  app.locals.views = createViews({ cache: production });
  app.locals.helpers = templateHelpers(assets);
  app.locals.baseUrl = config.baseUrl;
  app.locals.sessionCookieName = production ? '__Host-portico' : 'portico';
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  app.set('query parser', 'simple');

  app.use(
    pinoHttp({
      logger,
      genReqId: (req, res) => {
        const given = req.headers['x-request-id'];
        const id = typeof given === 'string' && /^[\w-]{8,64}$/.test(given) ? given : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
      serializers: {
        req: (req) => ({ id: req.id, method: req.method, url: req.url }),
        res: (res) => ({ statusCode: res.statusCode }),
      },
    }),
  );
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          fontSrc: ["'self'"],
          connectSrc: ["'self'"],
          formAction: ["'self'"],
          objectSrc: ["'none'"],
          baseUri: ["'none'"],
          frameAncestors: ["'none'"],
          ...(production ? { upgradeInsecureRequests: [] } : {}),
        },
      },
      strictTransportSecurity: production ? { maxAge: 63072000, includeSubDomains: true } : false,
      referrerPolicy: { policy: 'same-origin' },
      crossOriginEmbedderPolicy: false,
    }),
  );
  app.use(compression());
  app.use(assets.middleware);

  app.get('/healthz', async (_req, res) => {
    try {
      await db.raw('select 1');
      res.json({ status: 'ok' });
    } catch {
      res.status(503).json({ status: 'database unavailable' });
    }
  });

  // Browsers ask for an icon on every first visit; there is none, and "none" is cached for a day
  // instead of a 404 page (with a session lookup) each time.
  app.get('/favicon.ico', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=86400').status(204).end();
  });

  app.use(express.urlencoded({ extended: false, limit: '64kb', parameterLimit: 500 }));
  app.use(
    session({
      name: app.locals.sessionCookieName,
      secret: config.sessionSecret,
      store: new DatabaseSessionStore(db, SESSION_IDLE_MS, services.auth.readSession),
      resave: false,
      saveUninitialized: false,
      rolling: true,
      cookie: { httpOnly: true, sameSite: 'lax', secure: production, maxAge: SESSION_IDLE_MS, path: '/' },
    }),
  );
  const passport = createPassport(services.auth);
  const oidc = createOidcSignIn({ db, passport, baseUrl: config.baseUrl });
  app.use(passport.initialize());
  app.use(passport.session());
  app.use((req, res, next) => {
    // Absolute lifetime: however active, a session ends this long after sign-in.
    const signedInAt = req.session.signedInAt;
    if (req.user && (!signedInAt || Date.now() - signedInAt > SESSION_ABSOLUTE_MS)) {
      // The sign-in ends and the request goes on as anyone's who is not signed in: pages that need a
      // person ask for a sign-in, and a directory-hint link or the sign-in page keeps its directory.
      return req.session.regenerate((err) => {
        req.user = undefined;
        next(err);
      });
    }
    if (req.session.flash) {
      res.locals.flash = req.session.flash;
      delete req.session.flash;
    }
    next();
  });
  // Administrators' directory-file uploads (multipart) are read before the CSRF check reads their token.
  app.use(importUploadParser());
  // Signing out with no sign-in left (the session ended while the page was open) has nothing to
  // protect: it ends where signing out ends, not at "This form has expired".
  app.post('/sign-out', (req, res, next) => (req.user ? next() : res.redirect(303, '/sign-in?signedOut=1')));
  app.use(csrfProtection([new URL(config.baseUrl).origin]));

  app.use(authRoutes(services.auth, passport, oidc));
  app.use(directoryLinkRoutes(services.auth));
  app.use(requireSignIn, portalRoutes(services));

  app.use(notFoundHandler);
  app.use(errorHandler(logger));
  return app;
}
