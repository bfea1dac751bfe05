import type { NextFunction, Request, Response } from 'express';
import { HttpError, ValidationFailed } from '../errors.ts';
import type { Logger } from '../log.ts';
import { htmxTarget, render } from './render.ts';

/** Database unreachable: answer 503 with a readable page instead of crashing. */
function isDatabaseDown(err: unknown): boolean {
  const e = err as { code?: string; message?: string; name?: string };
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', '57P01', '57P02', '57P03', '08000', '08003', '08006'].includes(e?.code ?? '') ||
    e?.name === 'KnexTimeoutError' ||
    /Connection terminated|Knex: Timeout acquiring a connection/.test(e?.message ?? '')
  );
}

export function notFoundHandler(_req: Request, _res: Response, next: NextFunction): void {
  next(new HttpError(404, 'Page not found', 'If you typed the web address, check it is correct. If you pasted it, check you copied the entire address.'));
}

export function errorHandler(logger: Logger) {
  return (err: unknown, req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) return next(err);
    let status: number;
    let title: string;
    let message: string;
    if (err instanceof HttpError) {
      ({ status, title, message } = err);
    } else if (err instanceof ValidationFailed) {
      // A service refused input that no form re-rendered: still the person's mistake, not ours.
      status = 422;
      title = 'There is a problem';
      message = err.errors.map((e) => e.message).join(' ');
    } else if ((err as { type?: string })?.type === 'entity.too.large') {
      status = 413;
      title = 'What you sent is too large';
      message = 'Shorten what you typed and try again.';
    } else if ((err as { status?: number })?.status === 400 || (err as { type?: string })?.type === 'entity.parse.failed') {
      status = 400;
      title = 'The request could not be understood';
      message = 'Go back, reload the page and try again.';
    } else if (/^22/.test((err as { code?: string })?.code ?? '')) {
      // A value the database cannot take (a NUL byte, a malformed id or date): the request was bad.
      status = 400;
      title = 'The request could not be understood';
      message = 'Something in what you sent cannot be used. Go back, check what you typed, and try again.';
      logger.warn({ err, reqId: req.id }, 'database refused a value from a request');
    } else if (isDatabaseDown(err)) {
      status = 503;
      title = 'Portico is unavailable';
      message = 'Portico cannot reach its database at the moment. Nothing you sent was saved. Try again in a few minutes.';
      logger.error({ err, reqId: req.id }, 'database unavailable');
    } else {
      status = 500;
      title = 'Sorry, there is a problem with Portico';
      message = 'Something went wrong on our side and nothing was changed. Try again later.';
      logger.error({ err, reqId: req.id }, 'unhandled error');
    }
    if (status === 503) res.set('Retry-After', '30');
    const view = htmxTarget(req) ? 'errors/fragment' : 'errors/error';
    try {
      render(req, res, view, { title, message, status, requestId: req.id }, { status });
    } catch (renderErr) {
      logger.error({ err: renderErr }, 'error page failed to render');
      res.status(status).type('text').send(`${title}\n\n${message}\n`);
    }
  };
}
