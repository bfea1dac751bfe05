import { describe, expect, it } from 'vitest';
import { csvCell, toCsv } from '../../src/reviews/csv.ts';
import { addMonthsUtc, instanceEnd, latestOccurrence, nextOccurrence, occurrence } from '../../src/reviews/schedule.ts';

const d = (s: string) => new Date(s);
const iso = (x: Date | null | undefined) => x?.toISOString();

describe('review recurrence', () => {
  it('adds calendar months in UTC, keeping the day where the month has it', () => {
    expect(iso(addMonthsUtc(d('2027-01-31T09:00:00Z'), 1))).toBe('2027-02-28T09:00:00.000Z');
    expect(iso(addMonthsUtc(d('2028-01-31T09:00:00Z'), 1))).toBe('2028-02-29T09:00:00.000Z');
    expect(iso(addMonthsUtc(d('2027-11-15T09:00:00Z'), 3))).toBe('2028-02-15T09:00:00.000Z');
  });

  it('computes every occurrence from the first, so the 31st comes back whenever a month has one', () => {
    const start = d('2027-01-31T09:00:00Z');
    expect([1, 2, 3].map((k) => iso(occurrence(start, 'monthly', k)))).toEqual(['2027-02-28T09:00:00.000Z', '2027-03-31T09:00:00.000Z', '2027-04-30T09:00:00.000Z']);
    expect(iso(occurrence(start, 'weekly', 2))).toBe('2027-02-14T09:00:00.000Z');
    expect(iso(occurrence(start, 'quarterly', 1))).toBe('2027-04-30T09:00:00.000Z');
    expect(iso(occurrence(start, 'semiAnnually', 1))).toBe('2027-07-31T09:00:00.000Z');
    expect(iso(occurrence(start, 'annually', 1))).toBe('2028-01-31T09:00:00.000Z');
  });

  it('finds the latest occurrence at or before now, and none before the start', () => {
    const start = d('2027-01-15T09:00:00Z');
    expect(latestOccurrence(start, 'monthly', d('2027-01-15T08:59:59Z'))).toBeNull();
    expect(latestOccurrence(start, 'once', d('2030-01-01T00:00:00Z'))).toEqual({ index: 0, startsAt: start });
    expect(latestOccurrence(start, 'monthly', d('2027-03-15T09:00:00Z'))).toEqual({ index: 2, startsAt: d('2027-03-15T09:00:00Z') });
    expect(latestOccurrence(start, 'monthly', d('2027-03-15T08:59:00Z'))).toEqual({ index: 1, startsAt: d('2027-02-15T09:00:00Z') });
    expect(latestOccurrence(start, 'weekly', d('2027-02-01T00:00:00Z'))).toEqual({ index: 2, startsAt: d('2027-01-29T09:00:00Z') });
    expect(latestOccurrence(start, 'annually', d('2031-06-01T00:00:00Z'))?.startsAt).toEqual(d('2031-01-15T09:00:00Z'));
  });

  it('ends an instance after its duration, but never after the next occurrence starts', () => {
    const start = d('2027-01-15T09:00:00Z');
    expect(iso(instanceEnd(start, 'once', 30, 0))).toBe('2027-02-14T09:00:00.000Z');
    expect(iso(instanceEnd(start, 'monthly', 14, 1))).toBe('2027-03-01T09:00:00.000Z');
    expect(iso(instanceEnd(start, 'weekly', 14, 0))).toBe('2027-01-22T09:00:00.000Z');
  });

  it('says when a review comes back', () => {
    const start = d('2027-01-15T09:00:00Z');
    expect(iso(nextOccurrence(start, 'once', d('2027-01-01T00:00:00Z')))).toBe('2027-01-15T09:00:00.000Z');
    expect(nextOccurrence(start, 'once', d('2027-02-01T00:00:00Z'))).toBeNull();
    expect(iso(nextOccurrence(start, 'quarterly', d('2027-02-01T00:00:00Z')))).toBe('2027-04-15T09:00:00.000Z');
  });
});

describe('results CSV', () => {
  it('prefixes cells a spreadsheet would run as formulas, and quotes what needs quoting', () => {
    expect(csvCell('=1+1')).toBe("'=1+1");
    expect(csvCell('+44 20 7946 0000')).toBe("'+44 20 7946 0000");
    expect(csvCell('-2')).toBe("'-2");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('\tx')).toBe("'\tx");
    expect(csvCell('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvCell('Smith, Jane')).toBe('"Smith, Jane"');
    expect(csvCell('line\nbreak')).toBe('"line\nbreak"');
    expect(csvCell('Zoë')).toBe('Zoë');
    expect(csvCell(null)).toBe('');
    expect(toCsv([['a', 'b'], ['1', '=2']])).toBe("\uFEFFa,b\r\n1,'=2\r\n");
  });
});
