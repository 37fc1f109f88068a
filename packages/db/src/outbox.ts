import type { OutboxEvent } from '@matchcast/protocol';
import type { Pool, PoolClient } from 'pg';
import { inTransaction } from './pool-client';

type Queryable = Pick<Pool | PoolClient, 'query'>;

/**
 * What one read of a stream may hold in its rows' data, as JSON text: a page stops at the row
 * that reaches it (always at least one row). Rows alone did not bound it: 1,000 league tables of
 * 68 KB each parsed into ~400 MB of heap for one anonymous replay.
 */
export const STREAM_PAGE_BYTES = 4 * 1024 * 1024;

/**
 * Events of one stream with afterSeq < seq ≤ uptoSeq (no upper bound when omitted), in order,
 * at most `limit` rows and `maxBytes` of data (STREAM_PAGE_BYTES): a page may end before
 * uptoSeq although more rows follow, and the caller reads on from its last seq.
 * `data` is serialized once, in the LIMIT subquery, and parsed here, as the driver would.
 */
export async function readStream(
  db: Queryable,
  stream: string,
  afterSeq: number,
  uptoSeq?: number,
  limit = 10_000,
  maxBytes = STREAM_PAGE_BYTES,
): Promise<OutboxEvent[]> {
  const { rows } = await db.query<Omit<OutboxEvent, 'data'> & { data: string }>(
    `SELECT id, stream, seq, type, match_id, data, timestamp FROM (
       SELECT *, sum(octet_length(data)) OVER (ORDER BY seq) - octet_length(data) AS bytes_before FROM (
         SELECT id::text AS id, stream, seq::int AS seq, type, match_id, data::text AS data,
                to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS timestamp
           FROM outbox
          WHERE stream = $1 AND seq > $2 AND ($3::bigint IS NULL OR seq <= $3)
          ORDER BY seq LIMIT $4) page) sized
      WHERE bytes_before < $5
      ORDER BY seq`,
    [stream, afterSeq, uptoSeq ?? null, limit, maxBytes],
  );
  return rows.map((row) => ({ ...row, data: JSON.parse(row.data) as OutboxEvent['data'] }));
}

/** stream_counter.updated_at moves at most once a second (migration 012: appends are HOT updates). */
const UPDATED_AT_STEP_MS = 1000;

/**
 * The last seq of every public stream (match streams) changed within the last `withinMs`
 * (all of them when omitted), and of the named private streams (user:<id>, purchase:<id>):
 * what a gateway compares against what it delivered, to catch up after any gap in transport.
 * Private streams are many (one per user or purchase) and a gateway only follows those of its
 * own clients, so only those are read. Canary streams are never followed (the canary times its
 * own events, and a catch-up must not stand in for the live path it proves).
 * The names go as one JSON text, not a text[]: a gateway may follow 100,000 of them, and the
 * driver's array literal blocked its event loop 40-85 ms per read (JSON.stringify: 7-16 ms),
 * every position check; the server's time is about the same either way (~80-100 ms).
 */
export async function streamHeads(db: Queryable, withinMs?: number, userStreams: readonly string[] = []): Promise<Map<string, number>> {
  const { rows } = await db.query<{ stream: string; last_seq: number }>(
    `SELECT stream, last_seq::int AS last_seq FROM stream_counter
      WHERE ($1::float8 IS NULL OR updated_at > now() - make_interval(secs => ($1::float8 + $3::float8) / 1000))
        AND ((stream NOT LIKE 'user:%' AND stream NOT LIKE 'purchase:%' AND stream NOT LIKE 'canary:%') OR stream IN (SELECT jsonb_array_elements_text($2::jsonb)))`,
    [withinMs ?? null, JSON.stringify(userStreams), UPDATED_AT_STEP_MS],
  );
  return new Map(rows.map((row) => [row.stream, row.last_seq]));
}

/** A stream that changed since a point in time: the seq to replay after, and what routes it. */
export interface ChangedStream {
  stream: string;
  afterSeq: number;
  /** Enough of the stream's event for routeEvent: match id and the team/league refs. */
  routing: Pick<OutboxEvent, 'stream' | 'match_id' | 'data'>;
}

/**
 * Streams with events created after `since` - `marginMs`, other than `known`, limited to
 * match streams (when `matchStreams`) and the named streams (the client's user and league
 * channels, which are streams of their own): a resuming client has
 * never seen these (they began or first reached its channels while it was away). The margin
 * covers transactions that started before `since` but committed after it.
 */
export async function streamsChangedSince(
  db: Queryable,
  since: string,
  marginMs: number,
  scope: { known: readonly string[]; matchStreams: boolean; namedStreams: readonly string[] },
): Promise<ChangedStream[]> {
  const { rows } = await db.query<{ stream: string; after: number; match_id: string | null; home: string | null; away: string | null; league: string | null }>(
    `SELECT stream, (min(seq) - 1)::int AS after, min(match_id) AS match_id,
            min(data->'home_team'->>'id') AS home, min(data->'away_team'->>'id') AS away,
            min(data->'league'->>'id') AS league
       FROM outbox
      WHERE created_at > $1::timestamptz - make_interval(secs => $2::float8 / 1000)
        AND NOT (stream = ANY($3::text[]))
        AND (($4 AND stream LIKE 'match:%') OR stream = ANY($5::text[]))
      GROUP BY stream`,
    [since, marginMs, scope.known, scope.matchStreams, scope.namedStreams],
  );
  return rows.map((row) => ({
    stream: row.stream,
    afterSeq: row.after,
    routing: {
      stream: row.stream,
      match_id: row.match_id,
      data: { home_team: { id: row.home }, away_team: { id: row.away }, league: { id: row.league } },
    },
  }));
}

/** The outbox reads a gateway's sequencer needs, bound to one pool (an interface, so the sequencer can be unit-tested). */
export interface OutboxReader {
  readStream(stream: string, afterSeq: number, uptoSeq: number): Promise<OutboxEvent[]>;
  streamHead(stream: string): Promise<number>;
  streamHeadsOf(streams: readonly string[]): Promise<Map<string, number>>;
  streamHeads(withinMs?: number, userStreams?: readonly string[]): Promise<Map<string, number>>;
}

export function outboxReader(db: Queryable): OutboxReader {
  return {
    readStream: (stream, afterSeq, uptoSeq) => readStream(db, stream, afterSeq, uptoSeq),
    streamHead: (stream) => streamHead(db, stream),
    streamHeadsOf: (streams) => streamHeadsOf(db, streams),
    streamHeads: (withinMs, userStreams) => streamHeads(db, withinMs, userStreams),
  };
}

/** A stream's committed head: the real upper bound of any seq a notification can claim (0 if none). */
export async function streamHead(db: Queryable, stream: string): Promise<number> {
  const { rows } = await db.query<{ last_seq: number }>('SELECT last_seq::int AS last_seq FROM stream_counter WHERE stream = $1', [stream]);
  return rows[0]?.last_seq ?? 0;
}

/** The committed heads of these streams, in one query; a stream with no events yet is absent (head 0). */
export async function streamHeadsOf(db: Queryable, streams: readonly string[]): Promise<Map<string, number>> {
  const { rows } = await db.query<{ stream: string; last_seq: number }>(
    'SELECT stream, last_seq::int AS last_seq FROM stream_counter WHERE stream = ANY($1::text[])',
    [streams],
  );
  return new Map(rows.map((row) => [row.stream, row.last_seq]));
}

/**
 * Deletes outbox rows outside the resume window: older than `retentionMs` AND more than
 * `keepPerStream` events behind their stream's head. A row inside either bound stays.
 * One pruner at a time across the cluster (transaction-scoped advisory lock); returns the
 * number of rows removed, or undefined when another pruner holds the lock.
 */
export function pruneOutbox(db: Pool, retentionMs: number, keepPerStream: number, batch = 10_000): Promise<number | undefined> {
  return inTransaction(db, async (client) => {
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS locked', [PRUNE_LOCK]);
    if (!rows[0]?.locked) return undefined;
    const result = await client.query(
      `DELETE FROM outbox o WHERE o.id IN (
         SELECT o2.id FROM outbox o2 JOIN stream_counter c ON c.stream = o2.stream
          WHERE o2.created_at < now() - make_interval(secs => $1::float8 / 1000)
            AND o2.seq <= c.last_seq - $2
          LIMIT $3)`,
      [retentionMs, keepPerStream, batch],
    );
    return result.rowCount ?? 0;
  });
}

const PRUNE_LOCK = 7_246_103;
