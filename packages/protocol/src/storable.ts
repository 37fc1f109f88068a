/**
 * Checks for values from outside (request bodies, query strings, provider feeds) that go to
 * Postgres: checked before any query, so such input is refused with the field's name rather
 * than failing in the database (a 500, or a crawler transaction rejected on every poll).
 */

/**
 * Text Postgres can store: no NUL (text and jsonb refuse it) and no lone UTF-16 surrogate
 * (jsonb refuses its escape; text would silently get U+FFFD).
 */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function isStorableText(value: string): boolean {
  return !UNSTORABLE.test(value);
}

/** A date, optionally a time (seconds and up to 6 fraction digits optional) with a zone. */
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?(?:Z|[+-](\d{2}):(\d{2})))?$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * An ISO 8601 time as epoch ms, or undefined. Accepted: a date and time with a zone
 * (`2026-11-23T15:00Z`, `2026-11-23T15:00:00.123456+01:00`; the zone `Z` or ±hh:mm up to
 * ±15:59, as far as Postgres reads) and, with `allowDate`, a bare date (`2026-11-23`, UTC
 * midnight). The date must exist (Date.parse rolls 2026-02-30 over to March), and the time in
 * UTC must fall in the years 0001–9999: Postgres refuses year 0, and year 10000 comes back from
 * toISOString as "+010000-…", which neither Postgres nor JavaScript clients read.
 */
export function parseIsoTime(value: string, options: { allowDate?: boolean } = {}): number | undefined {
  const match = ISO_TIME.exec(value);
  if (!match || (match[4] === undefined && !options.allowDate)) return undefined;
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, zoneHour = 0, zoneMinute = 0] = match.slice(1).map((part) => Number(part ?? 0));
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
  if (day < 1 || day > days || hour > 23 || minute > 59 || second > 59 || zoneHour > 15 || zoneMinute > 59) return undefined;
  const ms = Date.parse(value);
  const utcYear = new Date(ms).getUTCFullYear();
  return utcYear >= 1 && utcYear <= 9999 ? ms : undefined;
}
