import vm from 'node:vm';

/**
 * Patterns of policy questions, written by administrators and catalog owners, checked against
 * what requestors type. JavaScript regular expressions backtrack: `^(a+)+$` against a long answer
 * would run for hours on the one event loop every person shares. So a check runs with a time limit.
 * A pattern is compiled in Unicode mode when it can be (so `\p{L}` and astral characters work), and
 * as plain JavaScript otherwise (patterns such as `^\d{3}\-\d{4}$` that only that mode accepts),
 * the same way when it is saved as when it is used.
 */
// Long enough that a busy machine never fails an ordinary pattern; short enough to bound the harm.
const TIME_LIMIT_MS = 250;

const context = vm.createContext({ pattern: /$^/, value: '' });
const check = new vm.Script('pattern.test(value)');

function compile(pattern: string): RegExp {
  try {
    return new RegExp(pattern, 'u');
  } catch {
    return new RegExp(pattern);
  }
}

/** Why a pattern cannot be used, or null when it can. */
export function patternError(pattern: string): string | null {
  try {
    compile(pattern);
    return null;
  } catch (e) {
    return (e as Error).message.replace(/^Invalid regular expression: /, '');
  }
}

/** Whether the value matches; 'tooSlow' when the pattern could not decide within the time limit. */
export function matchesPattern(pattern: string, value: string): boolean | 'tooSlow' {
  let compiled: RegExp;
  try {
    compiled = compile(pattern);
  } catch {
    return false;
  }
  context.pattern = compiled;
  context.value = value;
  try {
    return check.runInContext(context, { timeout: TIME_LIMIT_MS }) === true;
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') return 'tooSlow';
    throw err;
  } finally {
    context.value = '';
  }
}
