import type { Knex } from 'knex';
/**
 * Keyset pagination: a page is found from the sort key of the row before it, not an offset, so deep
 * pages cost the same as the first. Cursors are opaque base64url JSON; a broken one means "first page".
 */
export interface PageRequest {
  after?: unknown[];
  before?: unknown[];
}

export interface Page<T> {
  items: T[];
  /** Cursor for the next page, when there is one. */
  next?: string;
  /** Cursor for the previous page, when this is not the first page. */
  previous?: string;
}

/** Which page of a list a query reads, and how many rows: what a list's statement text depends on (db/statement.ts). */
export interface PageShape {
  from: 'start' | 'after' | 'before';
  limit: number;
}

export function pageShape(page: PageRequest, limit: number): PageShape {
  return { from: page.after ? 'after' : page.before ? 'before' : 'start', limit };
}

/** The key a page starts from, as values for a statement's placeholders: nulls on the first page. */
export function pageKey(page: PageRequest, length: number): unknown[] {
  return page.after ?? page.before ?? Array.from({ length }, () => null);
}

export function encodeCursor(key: unknown[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** `dateOrNull`: a date that may be missing, as an end date that never comes (sorted last). */
type KeyPart = 'string' | 'number' | 'date' | 'dateOrNull' | 'uuid';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// Dates PostgreSQL can compare with: a year JavaScript accepts, such as -271821, would make it fail.
const EARLIEST = Date.parse('0001-01-01T00:00:00Z');
const LATEST = Date.parse('9999-12-31T23:59:59.999Z');
const isStorableDate = (t: number) => t >= EARLIEST && t <= LATEST;

export function decodeCursor(value: unknown, shape: KeyPart[]): unknown[] | undefined {
  // Room for a key of 400 characters of up to four bytes each, base64-encoded with the rest of the key.
  if (typeof value !== 'string' || value.length > 2400) return undefined;
  try {
    const key = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as unknown;
    if (!Array.isArray(key) || key.length !== shape.length) return undefined;
    const ok = key.every((v, i) => {
      if (shape[i] === 'date' || (shape[i] === 'dateOrNull' && v !== null)) return typeof v === 'string' && isStorableDate(Date.parse(v));
      if (shape[i] === 'dateOrNull') return true;
      if (shape[i] === 'uuid') return typeof v === 'string' && UUID.test(v);
      if (shape[i] === 'number') return typeof v === 'number' && Number.isFinite(v);
      // Text the database can store: no NUL, no broken surrogates.
      return typeof v === 'string' && v.length <= 400 && !/\u0000/.test(v) && v.isWellFormed();
    });
    return ok ? key.map((v, i) => ((shape[i] === 'date' || shape[i] === 'dateOrNull') && v !== null ? new Date(v as string) : v)) : undefined;
  } catch {
    return undefined;
  }
}

export function pageRequestFrom(query: Record<string, unknown>, shape: KeyPart[]): PageRequest {
  const after = decodeCursor(query.after, shape);
  if (after) return { after };
  const before = decodeCursor(query.before, shape);
  return before ? { before } : {};
}

/**
 * Reads a page; a cursor that finds nothing (bookmarked before the rows it followed went away, or
 * made up) reads the first page instead, so a list never shows an empty page with no way back.
 */
export async function readPageOrFirst<T>(request: PageRequest, read: (request: PageRequest) => Promise<T[]>): Promise<{ rows: T[]; request: PageRequest }> {
  const rows = await read(request);
  if (rows.length > 0 || (!request.after && !request.before)) return { rows, request };
  return { rows: await read({}), request: {} };
}

/**
 * Turns `limit + 1` rows fetched in the page's direction into a page with its cursors.
 * `rows` must be in the direction fetched: ascending for first/after, descending for before.
 */
export function toPage<T>(rows: T[], limit: number, request: PageRequest, keyOf: (row: T) => unknown[]): Page<T> {
  const hasMore = rows.length > limit;
  let items = rows.slice(0, limit);
  if (request.before) items = items.reverse();
  const first = items[0];
  const last = items[items.length - 1];
  const page: Page<T> = { items };
  if (request.before) {
    if (last) page.next = encodeCursor(keyOf(last));
    if (hasMore && first) page.previous = encodeCursor(keyOf(first));
  } else {
    if (hasMore && last) page.next = encodeCursor(keyOf(last));
    if (request.after && first) page.previous = encodeCursor(keyOf(first));
  }
  return page;
}

export function serializeKey(v: unknown): unknown {
  return v instanceof Date ? v.toISOString() : v;
}

/**
 * Applies a page request to a query sorted by lower(name), then id; returns the direction to sort
 * in (descending for a page before, which toPage puts back in order).
 */
export function byNameKeyset(q: Knex.QueryBuilder, nameColumn: string, idColumn: string, page: PageRequest): 'asc' | 'desc' {
  if (page.after) q.whereRaw(`(lower(${nameColumn}), ${idColumn}) > (?, ?)`, page.after as [string, string]);
  if (page.before) q.whereRaw(`(lower(${nameColumn}), ${idColumn}) < (?, ?)`, page.before as [string, string]);
  return page.before ? 'desc' : 'asc';
}
