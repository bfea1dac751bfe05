import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../../src/shared/keyset.ts';

const ID = '0b5e2a3c-7d41-4f6e-9a8b-1c2d3e4f5a6b';

describe('page cursors', () => {
  it('carry the longest names in any script, so Next always moves on', () => {
    // A name may have 200 characters; lower-cased in the cursor, each may take up to four bytes.
    for (const name of ['доступ'.repeat(34).slice(0, 200), '權'.repeat(200), '🔑'.repeat(100), 'a'.repeat(200)]) {
      const cursor = encodeCursor([name, ID]);
      expect(decodeCursor(cursor, ['string', 'uuid']), `${name.slice(0, 6)}… (${cursor.length} characters)`).toEqual([name, ID]);
    }
  });

  it('refuse what no page of Portico writes', () => {
    expect(decodeCursor(encodeCursor(['x'.repeat(401), ID]), ['string', 'uuid'])).toBeUndefined();
    expect(decodeCursor(encodeCursor(['name', 'not-a-uuid']), ['string', 'uuid'])).toBeUndefined();
    expect(decodeCursor('A'.repeat(5000), ['string', 'uuid'])).toBeUndefined();
    expect(decodeCursor('{{not-a-cursor', ['string', 'uuid'])).toBeUndefined();
    // Dates JavaScript reads but PostgreSQL cannot compare with.
    for (const date of ['-271821-04-20T00:00:00.000Z', '+275760-09-13T00:00:00.000Z']) expect(decodeCursor(encodeCursor([date, ID]), ['date', 'uuid']), date).toBeUndefined();
  });

  it('carry a missing date, as the end of access that never ends, and refuse anything else there', () => {
    const end = new Date('2027-04-15T09:00:00.000Z');
    expect(decodeCursor(encodeCursor([null, 'wiki', ID]), ['dateOrNull', 'string', 'uuid'])).toEqual([null, 'wiki', ID]);
    expect(decodeCursor(encodeCursor([end.toISOString(), 'wiki', ID]), ['dateOrNull', 'string', 'uuid'])).toEqual([end, 'wiki', ID]);
    for (const bad of ['infinity', 'never', 12, true]) expect(decodeCursor(encodeCursor([bad, 'wiki', ID]), ['dateOrNull', 'string', 'uuid']), String(bad)).toBeUndefined();
    expect(decodeCursor(encodeCursor([null, ID]), ['date', 'uuid'])).toBeUndefined();
  });
});
