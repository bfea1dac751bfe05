import { timingSafeEqual } from 'node:crypto';
import { Readable } from 'node:stream';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { badRequest, HttpError } from '../errors.ts';
import { MAX_IMPORT_BYTES } from './import-service.ts';

/**
 * Directory files are uploaded as multipart/form-data, which the app's body parser (urlencoded,
 * 64 kB) does not read. This module reads such a body, bounded by MAX_IMPORT_BYTES, into
 * `req.body` as plain text fields (an uploaded file becomes its text), so that the one CSRF check
 * of the app can read its `_csrf` field like any other form's.
 *
 * Two ways in:
 * - `importUploadParser()`, mounted in app.ts after the session and before `csrfProtection`: the
 *   global CSRF check then sees the multipart form's `_csrf`, and uploads work without JavaScript.
 * - `readImportUpload(req)` in the import routes, for a multipart body nobody parsed yet: that
 *   request passed the global check through htmx's X-CSRF-Token header, and the `_csrf` field is
 *   checked here as well.
 */

export const IMPORT_UPLOAD_PATHS = new Set(['/admin/import', '/admin/import/apply']);

let mountedBeforeCsrf = false;
/** True when app.ts reads uploads before its CSRF check, so a plain form (no JavaScript) can upload. */
export const uploadsWorkWithoutJavaScript = () => mountedBeforeCsrf;

export const isMultipart = (req: Request) => (req.get('Content-Type') ?? '').toLowerCase().startsWith('multipart/form-data');

const tooLarge = () => new HttpError(413, 'The file is too large', `A directory file can be at most ${MAX_IMPORT_BYTES / 1024 / 1024} MB. Import larger files with the command line (npm run import).`);

/** Reads a multipart body into text fields; a field sent twice is a broken form (400). */
export async function parseMultipart(req: Request, limit = MAX_IMPORT_BYTES): Promise<Record<string, string>> {
  const declared = Number(req.get('Content-Length') ?? 0);
  if (declared > limit) throw tooLarge();
  let seen = 0;
  async function* bounded() {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      seen += chunk.length;
      if (seen > limit) throw tooLarge();
      yield chunk;
    }
  }
  let form: FormData;
  try {
    const request = new Request('http://portico.invalid/upload', {
      method: 'POST',
      headers: { 'content-type': req.get('Content-Type')! },
      body: Readable.toWeb(Readable.from(bounded())) as unknown as ReadableStream<Uint8Array>,
      duplex: 'half',
    } as RequestInit & { duplex: 'half' });
    form = await request.formData();
  } catch (err) {
    if (err instanceof HttpError) throw err;
    if (seen > limit) throw tooLarge();
    throw badRequest();
  }
  const fields: Record<string, string> = {};
  for (const [name, value] of form.entries()) {
    if (Object.hasOwn(fields, name)) throw badRequest();
    if (typeof value === 'string') fields[name] = value;
    else {
      fields[name] = await value.text();
      fields[`${name}Name`] = value.name;
    }
  }
  return fields;
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const expired = () =>
  new HttpError(403, 'This form has expired', 'The page you sent the form from was too old or came from another site, so nothing was changed. Go back, reload the page and try again.');

/** For app.ts, before csrfProtection: reads an administrator's multipart upload to the import pages into req.body. */
export function importUploadParser(): RequestHandler {
  mountedBeforeCsrf = true;
  return (req: Request, _res: Response, next: NextFunction) => {
    // Only a signed-in administrator's upload is read; anyone else's is left to the CSRF check and a 404.
    if (req.method !== 'POST' || !IMPORT_UPLOAD_PATHS.has(req.path) || !isMultipart(req) || !req.user?.isAdmin) return next();
    parseMultipart(req).then((fields) => {
      req.body = fields;
      next();
    }, next);
  };
}

/**
 * The import form's fields: the parsed body, or a multipart body read now. A body read here passed
 * the global check by its header only, so its own `_csrf` field must match the session's too.
 */
export async function readImportUpload(req: Request): Promise<Record<string, unknown>> {
  if (req.body && typeof req.body === 'object') return req.body as Record<string, unknown>;
  if (!isMultipart(req)) return {};
  const fields = await parseMultipart(req);
  const token = req.session.csrfToken;
  if (typeof fields._csrf !== 'string' || !token || !sameToken(fields._csrf, token)) throw expired();
  return fields;
}
