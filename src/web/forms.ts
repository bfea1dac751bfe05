import type { Request } from 'express';
import { badRequest, type FieldError } from '../errors.ts';

/**
 * Reads an untrusted urlencoded body. Each field is a string or absent; a field sent twice or shaped
 * like an object is a tampered or broken form and answers 400 before any service sees it.
 */
export class FormBody {
  private readonly body: Record<string, unknown>;
  constructor(body: unknown) {
    this.body = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  }
  static of(req: Request): FormBody {
    return new FormBody(req.body);
  }
  has(name: string): boolean {
    return Object.hasOwn(this.body, name);
  }
  /** The field's text as typed ('' when absent). */
  raw(name: string): string {
    if (!this.has(name)) return '';
    const v = this.body[name];
    if (typeof v !== 'string') throw badRequest();
    if (v.includes('\u0000')) throw badRequest();
    return v;
  }
  text(name: string): string {
    return this.raw(name).trim();
  }
  /** Every value of a repeated field (checkboxes). */
  list(name: string): string[] {
    if (!this.has(name)) return [];
    const v = this.body[name];
    const values = Array.isArray(v) ? v : [v];
    if (!values.every((x) => typeof x === 'string')) throw badRequest();
    return (values as string[]).map((x) => x.trim());
  }
}

/** What a re-rendered form needs: the messages and the values as typed. */
export interface FormState<V = Record<string, unknown>> {
  values: V;
  errors: FieldError[];
}

export function errorFor(errors: FieldError[] | undefined, field: string): string | undefined {
  return errors?.find((e) => e.field === field)?.message;
}
