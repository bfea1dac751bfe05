import { constants, gzipSync } from 'node:zlib';
import type { Request, Response } from 'express';
import type { Eta } from 'eta';
import { documentTitle, type TemplateHelpers } from './views.ts';
import type { CurrentUser } from '../auth/current-user.ts';
import type { Page } from '../shared/keyset.ts';

export interface PageContext {
  user: CurrentUser | null;
  csrfToken: string;
  h: TemplateHelpers;
  flash: string | null;
  /** The path of the page, to mark the current navigation item. */
  path: string;
  /** Where people reach Portico (BASE_URL), for links they copy. */
  baseUrl: string;
}

export interface RenderOptions {
  status?: number;
  /** HX-Target element id -> partial template that renders only that element's content. */
  fragments?: Record<string, string>;
  /** Text for the live region when a fragment is swapped in (announced by screen readers). */
  announce?: string;
  /** Targets that swap a small part of a page (a form's dates): their fragments leave its title alone. */
  keepTitleFor?: string[];
  /**
   * The page has an address of its own that the browser should show when it arrives as a fragment:
   * the end of a Post/Redirect/Get, which htmx follows without changing the address.
   */
  pushAddress?: boolean;
}

/** The id htmx says it will swap into, when this is an htmx request that wants a fragment. */
export function htmxTarget(req: Request): string | undefined {
  if (req.get('HX-Request') !== 'true' || req.get('HX-History-Restore-Request') === 'true') return undefined;
  return req.get('HX-Target') || undefined;
}

export function pageContext(req: Request, res: Response): PageContext {
  const h = req.app.locals.helpers as TemplateHelpers;
  return {
    user: (req.user as CurrentUser | undefined) ?? null,
    csrfToken: (res.locals.csrfToken as string | undefined) ?? '',
    h,
    flash: (res.locals.flash as string | undefined) ?? null,
    path: req.path,
    baseUrl: req.app.locals.baseUrl as string,
  };
}

/**
 * Answers the full page, or, for an htmx request aimed at a target listed in `fragments`, only that
 * fragment. Caches must keep the two apart, hence Vary.
 */
export function render(req: Request, res: Response, view: string, data: object = {}, options: RenderOptions = {}): void {
  res.vary('HX-Request');
  res.vary('HX-Target');
  const target = htmxTarget(req);
  const fragment = target ? options.fragments?.[target] : undefined;
  const views = req.app.locals.views as Eta;
  const ctx = pageContext(req, res);
  let html = views.render(fragment ?? view, { ...data, ctx, fragment: Boolean(fragment) });
  const title = (data as { title?: unknown }).title;
  if (fragment && typeof title === 'string' && !options.keepTitleFor?.includes(target!)) {
    // htmx sets the document's title from a <title> at the top level of a fragment: a swap that
    // shows errors, or a pushed address, gets the title the whole page would have.
    const errors = (data as { errors?: unknown[] }).errors;
    html += `\n<title>${escapeHtml(documentTitle(title, Boolean(errors?.length), ctx.user?.directory.name ?? null))}</title>`;
  }
  if (fragment && options.pushAddress) res.set('HX-Push-Url', req.originalUrl);
  if (fragment && options.announce) {
    // The text goes into the page's existing live region (innerHTML): a region replaced whole
    // arrives already filled, and screen readers often do not read that out.
    html += `\n<div id="live-status" hx-swap-oob="innerHTML">${escapeHtml(options.announce)}</div>`;
  }
  sendHtml(req, res, options.status ?? 200, html);
}

/** Pages smaller than this are sent as they are (the compression middleware's threshold). */
const GZIP_THRESHOLD = 1024;

/**
 * Sends a page, gzipped here in one call when the browser accepts it: every page is compressed
 * on every request, so the fastest level (a few percent larger than the default, for half the
 * time); the compression middleware leaves responses that are already encoded alone.
 */
function sendHtml(req: Request, res: Response, status: number, html: string): void {
  res.status(status).type('html').vary('Accept-Encoding');
  if (html.length < GZIP_THRESHOLD || req.acceptsEncodings('gzip', 'identity') !== 'gzip') return void res.send(html);
  res.set('Content-Encoding', 'gzip').send(gzipSync(html, { level: constants.Z_BEST_SPEED }));
}

/**
 * What a screen reader hears when a filtered or paged list is swapped in: how many rows are shown,
 * for which search, and whether more follow. ("12 users shown for “ada”.", "No groups match “x”.")
 * `none` names the rows when none match, as the page says it ("access packages you can request").
 */
export function listAnnouncement(page: Page<unknown>, noun: { one: string; many: string; none?: string }, query?: string): string {
  const n = page.items.length;
  const forQuery = query ? ` for “${query}”` : '';
  if (n === 0) return query ? `No ${noun.none ?? noun.many} match “${query}”.` : `No ${noun.many} to show.`;
  return `${n} ${n === 1 ? noun.one : noun.many} shown${forQuery}${page.next ? '; more on the next page' : ''}.`;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * Post/Redirect/Get with a one-time message shown (and announced) on the next page. htmx follows a
 * 303 itself and swaps the target's fragment; `fullPage` makes htmx load the next page whole instead
 * (when the form's target does not exist there).
 */
export function redirectWithFlash(req: Request, res: Response, to: string, flash?: string, options: { fullPage?: boolean } = {}): void {
  const go = () => {
    if (options.fullPage && req.get('HX-Request') === 'true') res.set('HX-Redirect', to).status(204).end();
    else res.redirect(303, to);
  };
  if (!flash || !req.session) return go();
  req.session.flash = flash;
  // Save before answering: a browser follows the redirect as soon as the headers arrive, and the
  // next page must find the message in the session.
  req.session.save((err) => (err ? req.next!(err) : go()));
}
