import { createHmac } from 'node:crypto';
import type pg from 'pg';

/** `payload` (a JSON object's text) signed as the outbox code signs it (018_signed_notifications.sql). */
export function signedNotification(payload: string, keyId: number, secret: Buffer): string {
  const mac = createHmac('sha256', secret).update(payload).digest('base64');
  return `${payload.slice(0, -1)},"mac":"${keyId}.${mac}"}`;
}

/**
 * NOTIFYs `payload` signed with the key that signs now, read by `superuser`: a forgery by
 * someone who holds the key, for tests of what the gateway does with a well-formed event that
 * no write produced.
 */
export async function notifySigned(superuser: pg.Pool | pg.Client, channel: string, payload: string): Promise<void> {
  const { rows } = await superuser.query<{ id: number; secret: Buffer }>(
    'SELECT id, secret FROM notify_key WHERE signs_from <= now() ORDER BY id DESC LIMIT 1',
  );
  const key = rows[0]!;
  await superuser.query('SELECT pg_notify($1, $2)', [channel, signedNotification(payload, key.id, key.secret)]);
}
