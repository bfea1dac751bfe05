/** An error that maps to an HTTP status and a page people can read. Services throw these; routes let them pass. */
export class HttpError extends Error {
  readonly status: number;
  readonly title: string;
  constructor(status: number, title: string, message?: string) {
    super(message ?? title);
    this.status = status;
    this.title = title;
  }
}

export const notFound = (what = 'Page not found', message = 'If you typed the web address, check it is correct. If you followed a link, the thing it points to may have been removed, or it is not yours to see.') =>
  new HttpError(404, what, message);

export const badRequest = (message = 'The form was not sent correctly. Go back, reload the page and try again.') =>
  new HttpError(400, 'The request could not be understood', message);

/** Someone else got there first: already decided, canceled or expired. */
export const conflict = (title: string, message: string) => new HttpError(409, title, message);

export interface FieldError {
  /** The form field's name, which is also the id of the control the summary links to. */
  field: string;
  message: string;
  /** Where the summary link goes when the field's first control has another id (radios, dates). */
  href?: string;
}

/** A form's answers broke the rules: the form comes back with these messages, the typed values and 422. */
export class ValidationFailed extends Error {
  readonly errors: FieldError[];
  constructor(errors: FieldError[]) {
    super(errors.map((e) => `${e.field}: ${e.message}`).join('; '));
    this.errors = errors;
  }
}

/** Collects field errors in the order of the form, keeping the first message for each field. */
export class FieldErrors {
  private readonly list: FieldError[] = [];
  add(field: string, message: string, href?: string): this {
    if (!this.has(field)) this.list.push({ field, message, href });
    return this;
  }
  has(field: string): boolean {
    return this.list.some((e) => e.field === field);
  }
  get any(): boolean {
    return this.list.length > 0;
  }
  toArray(): FieldError[] {
    return [...this.list];
  }
  throwIfAny(): void {
    if (this.any) throw new ValidationFailed(this.list);
  }
}
