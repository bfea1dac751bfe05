import { addDays, DAY_MS } from '../clock.ts';

export const RECURRENCES = ['once', 'weekly', 'monthly', 'quarterly', 'semiAnnually', 'annually'] as const;
export type Recurrence = (typeof RECURRENCES)[number];

const MONTHS: Record<Exclude<Recurrence, 'once' | 'weekly'>, number> = { monthly: 1, quarterly: 3, semiAnnually: 6, annually: 12 };

/** The shortest time between two occurrences, in days (a month is at least 28 days long). */
export const MIN_PERIOD_DAYS: Record<Exclude<Recurrence, 'once'>, number> = { weekly: 7, monthly: 28, quarterly: 89, semiAnnually: 181, annually: 365 };

export const RECURRENCE_LABELS: Record<Recurrence, string> = {
  once: 'Once',
  weekly: 'Weekly',
  monthly: 'Monthly',
  quarterly: 'Quarterly',
  semiAnnually: 'Every six months',
  annually: 'Yearly',
};

/** Adds calendar months in UTC, keeping the day of the month where it exists (31 January + 1 month = 28 February). */
export function addMonthsUtc(date: Date, months: number): Date {
  const day = date.getUTCDate();
  const first = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + months, 1, date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds(), date.getUTCMilliseconds()));
  const lastDay = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 0)).getUTCDate();
  first.setUTCDate(Math.min(day, lastDay));
  return first;
}

/**
 * The k-th start of a review (k = 0 is `startsOn`). Always computed from `startsOn`, never from the
 * previous occurrence, so a review that starts on the 31st comes back on the 31st whenever the month has one.
 */
export function occurrence(startsOn: Date, recurrence: Recurrence, k: number): Date {
  if (recurrence === 'once') return new Date(startsOn);
  if (recurrence === 'weekly') return addDays(startsOn, 7 * k);
  return addMonthsUtc(startsOn, MONTHS[recurrence] * k);
}

/** The latest occurrence at or before `now` and its index, or null before the first one. */
export function latestOccurrence(startsOn: Date, recurrence: Recurrence, now: Date): { index: number; startsAt: Date } | null {
  if (now < startsOn) return null;
  if (recurrence === 'once') return { index: 0, startsAt: new Date(startsOn) };
  let k: number;
  if (recurrence === 'weekly') {
    k = Math.floor((now.getTime() - startsOn.getTime()) / (7 * DAY_MS));
  } else {
    const months = (now.getUTCFullYear() - startsOn.getUTCFullYear()) * 12 + (now.getUTCMonth() - startsOn.getUTCMonth());
    k = Math.max(0, Math.floor(months / MONTHS[recurrence]));
  }
  while (k > 0 && occurrence(startsOn, recurrence, k) > now) k--;
  while (occurrence(startsOn, recurrence, k + 1) <= now) k++;
  return { index: k, startsAt: occurrence(startsOn, recurrence, k) };
}

/**
 * When the instance that starts at occurrence `index` ends: `durationDays` later, but never after the
 * next occurrence starts, so two instances of one review never run at once.
 */
export function instanceEnd(startsOn: Date, recurrence: Recurrence, durationDays: number, index: number): Date {
  const start = occurrence(startsOn, recurrence, index);
  const end = addDays(start, durationDays);
  if (recurrence === 'once') return end;
  const next = occurrence(startsOn, recurrence, index + 1);
  return next < end ? next : end;
}

/** The next start after `now`, for showing people when a recurring review comes back (null for a review held once). */
export function nextOccurrence(startsOn: Date, recurrence: Recurrence, now: Date): Date | null {
  if (now < startsOn) return new Date(startsOn);
  if (recurrence === 'once') return null;
  const latest = latestOccurrence(startsOn, recurrence, now)!;
  return occurrence(startsOn, recurrence, latest.index + 1);
}
