import { routeEvent, type OutboxEvent } from '@matchcast/protocol';
import type { Pool, PoolClient } from 'pg';

type Queryable = Pick<Pool | PoolClient, 'query'>;
import type { RecordedMessage } from './recorder';

/** Exactly-once, in-order accounting of one client against the outbox. */
export interface DeliveryCount {
  /** Outbox rows routed to at least one of the client's channels. */
  expected: number;
  /** Deliveries of those rows, duplicates included. */
  received: number;
  lost: number;
  duplicated: number;
  /** Deliveries whose seq was not above the previous one of the same stream. */
  outOfOrder: number;
}

type Row = Pick<OutboxEvent, 'id' | 'stream' | 'seq' | 'match_id' | 'data'>;

export async function maxOutboxId(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ id: string }>('SELECT COALESCE(max(id), 0)::text AS id FROM outbox');
  return rows[0]?.id ?? '0';
}

/** Outbox rows with afterId < id ≤ uptoId. */
export async function outboxWindow(db: Queryable, afterId: string, uptoId: string): Promise<Row[]> {
  const { rows } = await db.query<Row>(
    `SELECT id::text AS id, stream, seq::int AS seq, match_id, data FROM outbox
      WHERE id > $1 AND id <= $2 ORDER BY stream, seq`,
    [afterId, uptoId],
  );
  return rows;
}

/** The rows a client subscribed to `channels` must receive, as `stream@seq` keys. */
export function expectedKeys(rows: readonly Row[], channels: readonly string[]): Set<string> {
  const wanted = new Set(channels);
  const keys = new Set<string>();
  for (const row of rows) {
    if (routeEvent(row).some((channel) => wanted.has(channel))) keys.add(`${row.stream}@${row.seq}`);
  }
  return keys;
}

/**
 * Counts a client's deliveries of the expected rows: each exactly once, in seq order within
 * its stream. Deliveries of rows outside the window are ignored (they are not part of it).
 */
export function countDeliveries(expected: ReadonlySet<string>, messages: readonly RecordedMessage[]): DeliveryCount {
  const seen = new Map<string, number>();
  const lastSeq = new Map<string, number>();
  let outOfOrder = 0;
  for (const message of messages) {
    if (message.stream === undefined || typeof message.seq !== 'number') continue;
    const key = `${message.stream}@${message.seq}`;
    if (!expected.has(key)) continue;
    seen.set(key, (seen.get(key) ?? 0) + 1);
    const last = lastSeq.get(message.stream);
    if (last !== undefined && message.seq <= last) outOfOrder++;
    lastSeq.set(message.stream, message.seq);
  }
  let received = 0;
  for (const count of seen.values()) received += count;
  return {
    expected: expected.size,
    received,
    lost: expected.size - seen.size,
    duplicated: received - seen.size,
    outOfOrder,
  };
}
