import { ID_PATTERN, ProtocolError } from '@matchcast/protocol';
import { isBigintId } from './params';

/**
 * Opaque keyset cursors: "continue past this key", so every page is one index range scan
 * however deep, and a row arriving meanwhile never shifts a page (as an offset would).
 * Two kinds, each with its own prefix, so one kind's cursor is never taken for the other's:
 *  - id cursors (GET /api/notifications, GET /api/me/purchases): a bigint id, ids grow with
 *    time, pages go `id < cursor ORDER BY id DESC`;
 *  - key cursors (GET /api/leagues/{id}/members): a user id, pages go `user_id > cursor ORDER BY user_id`.
 */
const ID_PREFIX = 'n1.';
const KEY_PREFIX = 'k1.';
/** Longer than any cursor this API issues (a 64-character key in base64url is 90). */
const MAX_CURSOR = 128;

export const encodeCursor = (id: string): string => encode(ID_PREFIX, id);
export const decodeCursor = (cursor: string): string => decode(cursor, ID_PREFIX, isBigintId);
export const encodeKeyCursor = (key: string): string => encode(KEY_PREFIX, key);
export const decodeKeyCursor = (cursor: string): string => decode(cursor, KEY_PREFIX, (key) => ID_PATTERN.test(key));

function encode(prefix: string, value: string): string {
  return Buffer.from(prefix + value).toString('base64url');
}

function decode(cursor: string, prefix: string, valid: (value: string) => boolean): string {
  const text = cursor.length <= MAX_CURSOR && /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('latin1') : '';
  const value = text.startsWith(prefix) ? text.slice(prefix.length) : '';
  if (!valid(value)) throw new ProtocolError('BAD_REQUEST', '"cursor" is not a cursor this API issued');
  return value;
}
