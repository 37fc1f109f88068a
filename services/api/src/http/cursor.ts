import { ProtocolError } from '@matchcast/protocol';
import { isBigintId } from './params';

/**
 * The opaque keyset cursor of GET /api/notifications and GET /api/me/purchases: "continue below this id". Ids grow with
 * time, so `id < cursor ORDER BY id DESC` pages stay one index range scan however deep, and
 * a notification arriving meanwhile never shifts a page (as an offset would).
 */
const PREFIX = 'n1.';

export function encodeCursor(id: string): string {
  return Buffer.from(PREFIX + id).toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const text = cursor.length <= 64 && /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('latin1') : '';
  const id = text.startsWith(PREFIX) ? text.slice(PREFIX.length) : '';
  if (!isBigintId(id)) throw new ProtocolError('BAD_REQUEST', '"cursor" is not a cursor this API issued');
  return id;
}
