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

/**
 * For streams other than `known` with events created after `since` - `marginMs`: the seq
 * to replay after. A resuming client has never seen these streams (they began or first
 * reached its channels while it was away); the margin covers transactions that started
 * before `since` but committed after it.
 */
export async function streamsChangedSince(
  db: Queryable,
  since: string,
  marginMs: number,
  known: readonly string[],
): Promise<Map<string, number>> {
  const { rows } = await db.query<{ stream: string; after: number }>(
    `SELECT stream, (min(seq) - 1)::int AS after FROM outbox
      WHERE created_at > $1::timestamptz - make_interval(secs => $2::float8 / 1000)
        AND NOT (stream = ANY($3::text[]))
      GROUP BY stream`,
    [since, marginMs, known],
  );
  return new Map(rows.map((row) => [row.stream, row.after]));
}

/** The oldest seq still kept for a stream (undefined when the stream has no rows). */
export async function oldestSeq(db: Queryable, stream: string): Promise<number | undefined> {
  const { rows } = await db.query<{ seq: number | null }>(
    'SELECT min(seq)::int AS seq FROM outbox WHERE stream = $1',
    [stream],
  );
  return rows[0]?.seq ?? undefined;
}

/**
 * Deletes outbox rows outside the resume window: older than `retentionMs` AND more than
 * `keepPerStream` events behind their stream's head. A row inside either bound stays.
 * One pruner at a time across the cluster (transaction-scoped advisory lock); returns the
 * number of rows removed, or undefined when another pruner holds the lock.
 */
export async function pruneOutbox(db: Pool, retentionMs: number, keepPerStream: number, batch = 10_000): Promise<number | undefined> {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS locked', [PRUNE_LOCK]);
    if (!rows[0]?.locked) {
      await client.query('ROLLBACK');
      return undefined;
    }
    const result = await client.query(
      `DELETE FROM outbox o WHERE o.id IN (
         SELECT o2.id FROM outbox o2 JOIN stream_counter c ON c.stream = o2.stream
          WHERE o2.created_at < now() - make_interval(secs => $1::float8 / 1000)
            AND o2.seq <= c.last_seq - $2
          LIMIT $3)`,
      [retentionMs, keepPerStream, batch],
    );
    await client.query('COMMIT');
    return result.rowCount ?? 0;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

const PRUNE_LOCK = 7_246_103;
