import { describe, expect, it } from 'vitest';
import { matchesPattern, patternError } from '../../src/shared/pattern.ts';

describe('policy question patterns', () => {
  it('match answers as a regular expression in Unicode mode', () => {
    expect(matchesPattern('^[A-Z]+-[0-9]+$', 'WIKI-12')).toBe(true);
    expect(matchesPattern('^[A-Z]+-[0-9]+$', 'wiki 12')).toBe(false);
    expect(matchesPattern('^\\p{L}+$', 'Zoë')).toBe(true);
  });

  it('give up on a pattern that backtracks without end, instead of holding the server', () => {
    expect(matchesPattern('^(a+)+$', `${'a'.repeat(60)}!`)).toBe('tooSlow');
    // The same pattern decides quickly on an answer it matches.
    expect(matchesPattern('^(a+)+$', 'aaaa')).toBe(true);
  });

  it('are refused when saved if they would not compile where they are used', () => {
    expect(patternError('^[A-Z]+-[0-9]+$')).toBeNull();
    expect(patternError('^(T-[0-9]+$')).toMatch(/Unterminated group/);
  });

  it('keep working when only plain JavaScript accepts them (patterns saved before Unicode mode)', () => {
    expect(patternError('^\\d{3}\\-\\d{4}$')).toBeNull();
    expect(matchesPattern('^\\d{3}\\-\\d{4}$', '555-1234')).toBe(true);
    expect(patternError('^[\\w-:]+$')).toBeNull();
    expect(matchesPattern('^[\\w-:]+$', 'a-b:c')).toBe(true);
    expect(matchesPattern('^[\\w-:]+$', 'a b')).toBe(false);
  });
});
