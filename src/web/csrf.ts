import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { HttpError } from '../errors.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const refused = () =>
  new HttpError(403, 'This form has expired', 'The page you sent the form from was too old or came from another site, so nothing was changed. Go back, reload the page and try again.');

/**
 * Synchronizer-token CSRF protection plus a same-origin check. Every form carries `_csrf`; htmx
 * sends the same token in X-CSRF-Token (set once on <body> with hx-headers).
 */
export function csrfProtection(allowedOrigins: string[]) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (!req.session.csrfToken) req.session.csrfToken = randomBytes(24).toString('base64url');
    res.locals.csrfToken = req.session.csrfToken;
    if (SAFE_METHODS.has(req.method)) return next();

    const site = req.get('Sec-Fetch-Site');
    if (site && site !== 'same-origin' && site !== 'none') return next(refused());
    const origin = req.get('Origin');
    if (origin && !allowedOrigins.includes(origin) && origin !== `${req.protocol}://${req.get('host')}`) {
      return next(refused());
    }
    const body = req.body as Record<string, unknown> | undefined;
    const sent = (typeof body?._csrf === 'string' ? body._csrf : undefined) ?? req.get('X-CSRF-Token');
    if (typeof sent !== 'string' || !sameToken(sent, req.session.csrfToken)) return next(refused());
    next();
  };
}
