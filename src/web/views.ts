import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';
import type { AssetCatalog } from './assets.ts';
import { describeExpiration, type Expiration } from '../policies/policy.ts';
import { REQUEST_TYPE_LABELS, STATE_LABELS, stateTone, type RequestState } from '../requests/states.ts';

export const VIEWS_DIR = fileURLToPath(new URL('../../views/', import.meta.url));

const dateFormat = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
const dateTimeFormat = new Intl.DateTimeFormat('en-GB', {
  day: 'numeric', month: 'long', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: 'UTC', timeZoneName: 'short',
});

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
    date: (d: Date | string | null | undefined) => (d ? dateFormat.format(new Date(d)) : ''),
    /** 31 January 2027 at 14:05 UTC */
    dateTime: (d: Date | string | null | undefined) => (d ? dateTimeFormat.format(new Date(d)).replace(', ', ' at ') : ''),
    /** 2027-01-31, for <input type="date"> and <time datetime> */
    isoDate: (d: Date | string | null | undefined) => (d ? new Date(d).toISOString().slice(0, 10) : ''),
    iso: (d: Date | string | null | undefined) => (d ? new Date(d).toISOString() : ''),
    stateLabel: (state: RequestState) => STATE_LABELS[state] ?? state,
    stateTone: (state: RequestState) => stateTone(state),
    requestType: (type: string) => REQUEST_TYPE_LABELS[type] ?? type,
    expiration: (e: Expiration) => describeExpiration(e, (d) => dateFormat.format(d)),
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
    const resolved = new Map<string, string>();
    eta.resolvePath = function (template, meta) {
      const key = `${meta?.filepath ?? ''}\n${template}`;
      let path = resolved.get(key);
      if (path === undefined) resolved.set(key, (path = resolve.call(this, template, meta)));
      return path;
    };
  }
  return eta;
}
