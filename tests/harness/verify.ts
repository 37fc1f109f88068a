import { routeEvent, type OutboxEvent } from '@matchcast/protocol';
import type pg from 'pg';
import type { Received } from './ws-recorder';

export interface DeliveryReport {
  expected: number;
  received: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
}

/** Every outbox row with id > afterId, oldest first per stream. */
export async function outboxRows(db: pg.Client | pg.Pool, afterId: string): Promise<OutboxEvent[]> {
  const { rows } = await db.query<OutboxEvent>(
    `SELECT id::text AS id, stream, seq::int AS seq, type, match_id, data FROM outbox WHERE id > $1 ORDER BY stream, seq`,
    [afterId],
  );
  return rows;
}

export async function maxOutboxId(db: pg.Client | pg.Pool): Promise<string> {
  const { rows } = await db.query<{ id: string }>(`SELECT COALESCE(max(id), 0)::text AS id FROM outbox`);
  return rows[0]!.id;
}

/**
 * Compares what a client received with what the outbox says it should have: each row
 * routed to one of its channels, exactly once, in seq order within each stream.
 */
export function compare(rows: OutboxEvent[], channels: string[], received: Received[]): DeliveryReport {
  const wanted = new Set(channels);
  const expected = rows.filter((row) => routeEvent(row).some((channel) => wanted.has(channel)));
  const expectedKeys = new Set(expected.map((row) => `${row.stream}@${row.seq}`));
  const seen = new Map<string, number>();
  const lastSeq = new Map<string, number>();
  let outOfOrder = 0;
  for (const message of received) {
    if (!message.stream || typeof message.seq !== 'number') continue;
    const key = `${message.stream}@${message.seq}`;
    if (!expectedKeys.has(key)) continue;
    seen.set(key, (seen.get(key) ?? 0) + 1);
    const last = lastSeq.get(message.stream);
    if (last !== undefined && message.seq <= last) outOfOrder++;
    lastSeq.set(message.stream, message.seq);
  }
  let duplicated = 0;
  for (const count of seen.values()) duplicated += count - 1;
  return {
    expected: expected.length,
    received: [...seen.values()].reduce((a, b) => a + b, 0),
    lost: expected.length - seen.size,
    duplicated,
    outOfOrder,
  };
}
