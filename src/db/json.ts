/** A lone surrogate as JSON.stringify escapes it (pairs are written as they are). */
const LONE_SURROGATE = /\\ud[89a-f]/i;

/**
 * Rows as one JSON parameter (for `json_to_recordset`). PostgreSQL refuses a lone surrogate escaped
 * in JSON, so strings with one are made well-formed: U+FFFD, as when the same text is sent as a value.
 */
export function jsonParameter(rows: unknown[]): string {
  const json = JSON.stringify(rows);
  if (!LONE_SURROGATE.test(json)) return json;
  return JSON.stringify(rows, (_key, value: unknown) => (typeof value === 'string' ? value.toWellFormed() : value));
}
