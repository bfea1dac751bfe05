import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';
import type { AssetCatalog } from './assets.ts';
import { describeExpiration, type Expiration } from '../policies/policy.ts';
import { OPEN_STATES, REQUEST_TYPE_LABELS, STATE_LABELS, stateTone, type RequestState } from '../requests/states.ts';

export const VIEWS_DIR = fileURLToPath(new URL('../../views/', import.meta.url));

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const twoDigits = (n: number) => (n < 10 ? `0${n}` : String(n));

function validDate(d: Date | string): Date {
  const date = new Date(d);
  if (Number.isNaN(date.getTime())) throw new RangeError(`Invalid time value: ${String(d)}`);
  return date;
}

/**
 * "31 January 2027", in UTC: what Intl.DateTimeFormat('en-GB', { dateStyle 'long' }) writes, made
 * by hand because a list page writes dozens of dates and Intl took 5 % of a page's time.
 */
export function formatDate(d: Date | string): string {
  const date = validDate(d);
  return `${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()}`;
}

/** "31 January 2027 at 14:05 UTC" */
export function formatDateTime(d: Date | string): string {
  const date = validDate(d);
  return `${formatDate(date)} at ${twoDigits(date.getUTCHours())}:${twoDigits(date.getUTCMinutes())} UTC`;
}

/** The document's title: "Error: " first when the page shows errors, then the page, the directory and Portico. */
export function documentTitle(title: string, hasErrors: boolean, directoryName: string | null): string {
  return `${hasErrors ? 'Error: ' : ''}${title}${directoryName ? ` – ${directoryName}` : ''} – Portico`;
}

/** Helpers every template can call as `it.h.<name>`. */
export function templateHelpers(assets: AssetCatalog) {
  return {
    asset: (name: string) => assets.url(name),
    documentTitle,
    /** 31 January 2027 */
    date: (d: Date | string | null | undefined) => (d ? formatDate(d) : ''),
    /** 31 January 2027 at 14:05 UTC */
    dateTime: (d: Date | string | null | undefined) => (d ? formatDateTime(d) : ''),
    /** 2027-01-31, for <input type="date"> and <time datetime> */
    isoDate: (d: Date | string | null | undefined) => (d ? new Date(d).toISOString().slice(0, 10) : ''),
    iso: (d: Date | string | null | undefined) => (d ? new Date(d).toISOString() : ''),
    stateLabel: (state: RequestState) => STATE_LABELS[state] ?? state,
    stateTone: (state: RequestState) => stateTone(state),
    /** Still on its way: submitted, pending approval, approved or delivering. */
    isOpen: (state: RequestState) => OPEN_STATES.includes(state),
    requestType: (type: string) => REQUEST_TYPE_LABELS[type] ?? type,
    expiration: (e: Expiration) => describeExpiration(e, formatDate),
    number: (n: number) => n.toLocaleString('en-GB'),
    /**
     * Who can decide a stage, in words: any one of them decides for all. "Max Manager", "Max or Apu",
     * "Max, Apu or Lia", "one of 12 approvers (Max, Apu, Lia and others)". Alternates count once the
     * stage was forwarded to them.
     */
    whoDecides: (stage: { approvers: { name: string; kind: string }[]; escalatedAt?: Date | string | null }, sentenceStart = false) => {
      const names = stage.approvers.filter((a) => a.kind !== 'escalation' || stage.escalatedAt).map((a) => a.name);
      const text = names.length === 0 ? 'no approver'
        : names.length <= 3 ? (names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`)
        : `one of ${names.length.toLocaleString('en-GB')} approvers (${names.slice(0, 3).join(', ')} and others)`;
      return sentenceStart ? text.charAt(0).toUpperCase() + text.slice(1) : text;
    },
    plural: (n: number, one: string, many: string = one + 's') => `${n} ${n === 1 ? one : many}`,
    /** Builds a query string from the current filters, dropping empty values. */
    query: (params: Record<string, string | number | undefined | null>) => {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
      const s = q.toString();
      return s ? `?${s}` : '';
    },
  };
}

export type TemplateHelpers = ReturnType<typeof templateHelpers>;

export function createViews(options: { cache: boolean }): Eta {
  const eta = new Eta({ views: VIEWS_DIR, cache: options.cache, autoEscape: true, autoTrim: [false, 'nl'], debug: !options.cache });
  if (options.cache) {
    // Eta works out a template's file path on every render, cached or not; with a fixed set of
    // templates, each (template, includer) pair is worked out once.
    const resolve = eta.resolvePath!;
    const resolved = new Map<string, Map<string, string>>(); // includer -> template -> path
    eta.resolvePath = function (template, meta) {
      const includer = meta?.filepath ?? '';
      let paths = resolved.get(includer);
      if (paths === undefined) resolved.set(includer, (paths = new Map()));
      let path = paths.get(template);
      if (path === undefined) paths.set(template, (path = resolve.call(this, template, meta)));
      return path;
    };
  }
  return eta;
}
