import { describe, expect, it } from 'vitest';
import { formatDate, formatDateTime } from '../../src/web/views.ts';

// What people read on every page: the same words Intl writes for en-GB in UTC, checked against it.
const intlDate = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
const intlDateTime = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'long', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: 'UTC', timeZoneName: 'short' });

describe('dates on pages', () => {
  it('writes a date and a time as Intl does for en-GB in UTC, over every day of 1999–2101 at varying times', () => {
    const start = Date.UTC(1999, 0, 1);
    for (let day = 0; day < 103 * 366; day++) {
      const d = new Date(start + day * 86_400_000 + ((day * 7_919_000) % 86_400_000));
      expect(formatDate(d)).toBe(intlDate.format(d));
      expect(formatDateTime(d)).toBe(intlDateTime.format(d).replace(', ', ' at '));
    }
  });

  it('writes the years a Date holds after year 0 as Intl does, four digits or not', () => {
    for (const year of [1, 5, 99, 999, 1000, 1582, 9999, 10000, 275759]) {
      const d = new Date(Date.UTC(2000, 5, 1, 13, 7));
      d.setUTCFullYear(year);
      expect(formatDate(d)).toBe(intlDate.format(d));
      expect(formatDateTime(d)).toBe(intlDateTime.format(d).replace(', ', ' at '));
    }
  });

  it('reads the text of a timestamp as a database driver gives it, and refuses one that is not a date', () => {
    expect(formatDate('2027-01-31T23:30:00.000Z')).toBe('31 January 2027');
    expect(formatDateTime('2027-01-31T09:05:00+02:00')).toBe('31 January 2027 at 07:05 UTC');
    expect(() => formatDate('not a date')).toThrow(RangeError);
  });
});
