/**
 * Text Postgres can store: no NUL (text and jsonb refuse it) and no lone UTF-16 surrogate
 * (jsonb refuses its escape; text would silently get U+FFFD). Checked before any query, so
 * such input is a 400 with the field's name rather than a database error.
 */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function isStorableText(value: string): boolean {
  return !UNSTORABLE.test(value);
}

/** Length in Unicode code points, as Postgres's char_length counts. */
export function codePoints(value: string): number {
  let count = 0;
  for (const _ of value) count++;
  return count;
}
