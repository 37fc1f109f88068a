import { createHmac } from 'node:crypto';
import type pg from 'pg';

/**
 * NOTIFYs `payload` signed as the outbox code signs it (018_signed_notifications.sql), with the
 * key that signs now, read by `superuser`: a forgery by someone who holds the key, for tests of
 * what the gateway does with a well-formed event that no write produced.
 */
export async function notifySigned(superuser: pg.Pool | pg.Client, channel: string, payload: string): Promise<void> {
  const { rows } = await superuser.query<{ id: number; secret: Buffer }>(
    'SELECT id, secret FROM notify_key WHERE signs_from <= now() ORDER BY id DESC LIMIT 1',
  );
  const key = rows[0]!;
  const mac = createHmac('sha256', key.secret).update(payload).digest('base64');
  await superuser.query('SELECT pg_notify($1, $2)', [channel, `${payload.slice(0, -1)},"mac":"${key.id}.${mac}"}`]);
}
