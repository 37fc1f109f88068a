import { createHmac, timingSafeEqual } from 'node:crypto';
import { InvalidBusMessage } from '@matchcast/protocol';

/**
 * The keys that sign outbox notifications (018_signed_notifications.sql), and the check of a
 * signed notification: the payload's JSON object with a last member
 * `"mac":"<key id>.<base64 HMAC-SHA256 of the payload without it>"`. PostgreSQL lets any role
 * NOTIFY any channel; only the owner-rights outbox code holds the keys, so a payload that
 * verifies was written by it.
 */
export const NOTIFY_KEYS_QUERY = 'SELECT id, secret FROM matchcast_notify_keys()';

const SIGNATURE = /,"mac":"([1-9]\d{0,9})\.([A-Za-z0-9+/]{43}=)"\}$/;
/** Longer than any signature member with its closing brace (at most 65 characters). */
const SIGNATURE_TAIL = 80;

export class NotifyKeys {
  private keys = new Map<number, Buffer>();

  /** Takes the rows of NOTIFY_KEYS_QUERY as the whole set (a rotation drops the oldest). */
  replace(rows: ReadonlyArray<{ id: number; secret: Buffer }>): void {
    this.keys = new Map(rows.map((row) => [row.id, row.secret]));
  }

  /** The payload a notification signed with one of the keys carries, without its signature; InvalidBusMessage otherwise. */
  open(notification: string): string {
    const signed = SIGNATURE.exec(notification.slice(-SIGNATURE_TAIL));
    if (!signed) throw new InvalidBusMessage('notification is not signed');
    const key = this.keys.get(Number(signed[1]));
    if (!key) throw new InvalidBusMessage(`notification is signed with unknown key ${signed[1]}`);
    const payload = `${notification.slice(0, notification.length - signed[0].length)}}`;
    // Compared as text: base64 decoding ignores the last character's spare bits, so only the canonical spelling passes.
    const expected = Buffer.from(createHmac('sha256', key).update(payload).digest('base64'));
    if (!timingSafeEqual(expected, Buffer.from(signed[2]!))) throw new InvalidBusMessage('notification signature does not verify');
    return payload;
  }
}
