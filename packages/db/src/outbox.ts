import type { OutboxEvent } from '@matchcast/protocol';
import type { Pool, PoolClient } from 'pg';

type Queryable = Pick<Pool | PoolClient, 'query'>;

const EVENT_COLUMNS = `id::text AS id, stream, seq::int AS seq, type, match_id, data,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS timestamp`;

/** Events of one stream with afterSeq < seq ≤ uptoSeq (no upper bound when omitted), in order. */
export async function readStream(
  db: Queryable,
  stream: string,
  afterSeq: number,
  uptoSeq?: number,
  limit = 10_000,
): Promise<OutboxEvent[]> {
  const { rows } = await db.query<OutboxEvent>(
    `SELECT ${EVENT_COLUMNS} FROM outbox
      WHERE stream = $1 AND seq > $2 AND ($3::bigint IS NULL OR seq <= $3)
      ORDER BY seq LIMIT $4`,
    [stream, afterSeq, uptoSeq ?? null, limit],
  );
  return rows;
}

export async function readEvent(db: Queryable, id: string): Promise<OutboxEvent | undefined> {
  const { rows } = await db.query<OutboxEvent>(`SELECT ${EVENT_COLUMNS} FROM outbox WHERE id = $1`, [id]);
  return rows[0];
}

/**
 * The last seq of every stream changed within the last `withinMs` (all streams when omitted):
 * what a gateway compares against what it delivered, to catch up after any gap in transport.
 */
export async function streamHeads(db: Queryable, withinMs?: number): Promise<Map<string, number>> {
  const { rows } = await db.query<{ stream: string; last_seq: number }>(
    `SELECT stream, last_seq::int AS last_seq FROM stream_counter
      WHERE $1::float8 IS NULL OR updated_at > now() - make_interval(secs => $1::float8 / 1000)`,
    [withinMs ?? null],
  );
  return new Map(rows.map((row) => [row.stream, row.last_seq]));
}

/** The oldest seq still kept for a stream (undefined when the stream has no rows). */
export async function oldestSeq(db: Queryable, stream: string): Promise<number | undefined> {
  const { rows } = await db.query<{ seq: number | null }>(
    'SELECT min(seq)::int AS seq FROM outbox WHERE stream = $1',
    [stream],
  );
  return rows[0]?.seq ?? undefined;
}
