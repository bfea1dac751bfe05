import type { Request } from 'express';
import { notFound } from '../errors.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isUuid = (value: unknown): value is string => typeof value === 'string' && UUID.test(value);

/** A route's :id as a UUID; anything else is a page that does not exist. */
export function uuidParam(req: Request, name = 'id'): string {
  const value = req.params[name];
  if (!isUuid(value)) throw notFound();
  return value.toLowerCase();
}

/** A query-string value as one string ('' when absent, repeated or not text), without control characters. */
export function queryText(req: Request, name: string, max = 200): string {
  const v = req.query[name];
  return typeof v === 'string' ? v.replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, max) : '';
}
