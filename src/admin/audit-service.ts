import type { Knex } from 'knex';
import type { Clock } from '../clock.ts';
import { FieldErrors, type FieldError } from '../errors.ts';
import { parseDate } from '../requests/service.ts';
import { csvCell } from '../reviews/csv.ts';
import { toPage, type Page, type PageRequest } from '../shared/keyset.ts';
import { searchAudit, type AuditFilter, type AuditRow } from './audit-data.ts';
import { requireAdministrator, type AdminScope } from './scope.ts';

const PAGE_SIZE = 50;
const CSV_BATCH = 1000;
/** A download is bounded; narrow the filters for more. */
export const CSV_MAX_ROWS = 100_000;

/** The kinds of object the audit log records, for the filter. */
export const OBJECT_TYPES: { value: string; label: string }[] = [
  { value: 'request', label: 'Request' },
  { value: 'assignment', label: 'Assignment' },
  { value: 'user', label: 'User' },
  { value: 'group', label: 'Group' },
  { value: 'catalog', label: 'Catalog' },
  { value: 'resource', label: 'Resource' },
  { value: 'accessPackage', label: 'Access package' },
  { value: 'policy', label: 'Policy' },
  { value: 'accessReview', label: 'Access review' },
  { value: 'accessReviewInstance', label: 'Access review instance' },
  { value: 'accessReviewItem', label: 'Access review item' },
  { value: 'directory', label: 'Directory' },
];

/** The audit log's filter form, as typed (query-string values). */
export interface AuditQuery {
  person: string;
  action: string;
  objectType: string;
  objectId: string;
  from: string;
  to: string;
}

export const emptyAuditQuery = (): AuditQuery => ({ person: '', action: '', objectType: '', objectId: '', from: '', to: '' });

const DAY = 24 * 3600_000;

export interface AuditListing {
  query: AuditQuery;
  errors: FieldError[];
  page: Page<AuditRow & { summary: string; detailsJson: string }> | null;
}

/** One line about an entry's details for the table: the reason, the label or the before/after change. */
export function summarize(details: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const key of ['label', 'packageName', 'userEmail', 'onBehalfOf', 'reason', 'policyName']) {
    const v = details[key];
    if (typeof v === 'string' && v) parts.push(`${key === 'onBehalfOf' ? 'for' : key === 'userEmail' ? 'user' : key === 'policyName' ? 'policy' : key === 'packageName' ? 'package' : key}: ${v}`);
  }
  const before = details.before as Record<string, unknown> | null | undefined;
  const after = details.after as Record<string, unknown> | null | undefined;
  if (before && after && typeof before === 'object' && typeof after === 'object' && typeof before.state === 'string' && typeof after.state === 'string' && before.state !== after.state) {
    parts.push(`state: ${before.state} → ${after.state}`);
  }
  return parts.join('; ');
}

export function createAuditAdmin(deps: { db: Knex; clock: Clock }) {
  const { db, clock } = deps;

  /** Checks the filters; problems come back as field errors for the form, with the values as typed. */
  async function toFilter(scope: AdminScope, query: AuditQuery): Promise<{ filter: AuditFilter; errors: FieldError[] }> {
    const errors = new FieldErrors();
    const filter: AuditFilter = { actorId: null, actorLabel: null, action: '', objectType: '', objectId: '', from: null, until: null };
    const person = query.person.trim().toLowerCase();
    if (person) {
      const user = await db('users').where({ directory_id: scope.directoryId, email: person }).first('id');
      if (user) filter.actorId = user.id;
      else filter.actorLabel = person;
    }
    const action = query.action.trim();
    if (action && !/^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*$/.test(action)) errors.add('action', 'Action must be an action name such as request.canceled, or the first part of one such as request');
    else filter.action = action;
    if (query.objectType && !OBJECT_TYPES.some((t) => t.value === query.objectType)) errors.add('objectType', 'Select a kind of object from the list');
    else filter.objectType = query.objectType;
    filter.objectId = query.objectId.trim();
    const from = query.from ? parseDate(query.from.trim()) : null;
    const to = query.to ? parseDate(query.to.trim()) : null;
    if (query.from && !from) errors.add('from', 'From date must be a real date, like 2027-01-31');
    if (query.to && !to) errors.add('to', 'To date must be a real date, like 2027-01-31');
    if (from && to && to < from) errors.add('to', 'To date must be the same as or after the from date');
    filter.from = from;
    filter.until = to ? new Date(to.getTime() + DAY) : null;
    return { filter, errors: errors.toArray() };
  }

  return {
    csvFilename: (scope: AdminScope) => `audit-${scope.user.directory.hint}-${clock.now().toISOString().slice(0, 10)}.csv`,

    async list(scope: AdminScope, query: AuditQuery, page: PageRequest): Promise<AuditListing> {
      requireAdministrator(scope);
      const { filter, errors } = await toFilter(scope, query);
      if (errors.length) return { query, errors, page: null };
      const afterId = typeof page.after?.[0] === 'string' && /^\d{1,19}$/.test(page.after[0]) ? page.after[0] : undefined;
      const beforeId = !afterId && typeof page.before?.[0] === 'string' && /^\d{1,19}$/.test(page.before[0]) ? page.before[0] : undefined;
      const rows = await searchAudit(db, scope.directoryId, filter, { afterId, beforeId }, PAGE_SIZE);
      const request: PageRequest = afterId ? { after: [afterId] } : beforeId ? { before: [beforeId] } : {};
      const items = rows.map((r) => ({ ...r, id: String(r.id), summary: summarize(r.details ?? {}), detailsJson: JSON.stringify(r.details ?? {}, null, 2) }));
      return { query, errors: [], page: toPage(items, PAGE_SIZE, request, (r) => [r.id]) };
    },

    /**
     * The filtered entries as CSV, newest first, written in batches as they are read (at most
     * CSV_MAX_ROWS; `write` answers false when nobody is reading any more). Returns the filter's
     * field errors instead when the filters are not valid.
     */
    async csv(scope: AdminScope, query: AuditQuery, write: (chunk: string) => Promise<boolean>): Promise<FieldError[]> {
      requireAdministrator(scope);
      const { filter, errors } = await toFilter(scope, query);
      if (errors.length) return errors;
      if (!(await write('\uFEFF' + ['id', 'time (UTC)', 'actor', 'actor name', 'action', 'object type', 'object id', 'ip', 'details'].map(csvCell).join(',') + '\r\n'))) return [];
      let afterId: string | undefined;
      let written = 0;
      while (written < CSV_MAX_ROWS) {
        const want = Math.min(CSV_BATCH, CSV_MAX_ROWS - written);
        const fetched = await searchAudit(db, scope.directoryId, filter, { afterId }, want);
        const rows = fetched.slice(0, want);
        if (rows.length === 0) break;
        const lines = rows.map((r) =>
          [String(r.id), new Date(r.at).toISOString(), r.actorLabel, r.actorName, r.action, r.targetType, r.targetId, r.ip, JSON.stringify(r.details ?? {})].map(csvCell).join(','),
        );
        if (!(await write(lines.join('\r\n') + '\r\n'))) break;
        written += rows.length;
        afterId = String(rows[rows.length - 1].id);
        if (fetched.length <= want) break;
      }
      return [];
    },
  };
}

export type AuditAdmin = ReturnType<typeof createAuditAdmin>;
