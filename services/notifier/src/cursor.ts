/**
 * The notifier's durable position in the match outbox (table notifier_cursor, 004_users.sql).
 *
 * Outbox ids are not committed in id order, so the position is not an id. Rows are taken in
 * (txid, id) order — the order of outbox_match_txid_idx — and only below the xmin of a fresh
 * snapshot: every transaction with a txid below xmin has ended, so the rows below it are final
 * and no row can ever appear behind the position afterwards. A transaction that began before
 * a snapshot but commits after it has a txid >= that snapshot's xmin, so it is read by a later
 * poll, never skipped. (Reading in id order within [horizon, xmin) would not be enough: when a
 * poll stops at its row limit, the next one, with a higher xmin, can find a newly final row
 * with a lower id than the last one processed.)
 *
 * Position (horizon, event_id, after_user):
 *   - every row with (txid, id) <= (horizon, event_id) is done, except that
 *   - when after_user <> '', row event_id is in progress: its followers up to after_user
 *     (in user_id order) have their notification.
 * A fresh cursor is (xmin now, 0, ''): history before the first start is not notified.
 */
import type { Pool, PoolClient } from 'pg';
import { NOTIFIABLE_OUTBOX_TYPES } from './events';

export const CURSOR_NAME = 'notifier';

export interface Cursor {
  /** xid8, as Postgres prints it (a decimal string). */
  readonly horizon: string;
  /** Outbox id (bigint as text); '0' before the first row of a horizon. */
  readonly eventId: string;
  readonly afterUser: string;
}

/** An outbox row of a match stream, as the cursor reads it. */
export interface PendingRow {
  id: string;
  txid: string;
  type: string;
  data: unknown;
  created_at: Date;
}

/** Another notifier moved the cursor since this one read it: re-read it and carry on. */
export class CursorMovedError extends Error {
  constructor() {
    super('the notifier cursor was moved by another notifier');
    this.name = 'CursorMovedError';
  }
}

export function sameCursor(a: Cursor, b: Cursor): boolean {
  return a.horizon === b.horizon && a.eventId === b.eventId && a.afterUser === b.afterUser;
}

/** The larger of two xid8 values. */
export function maxXid(a: string, b: string): string {
  return BigInt(a) >= BigInt(b) ? a : b;
}

const CURSOR_COLUMNS = 'horizon::text AS horizon, event_id::text AS "eventId", after_user AS "afterUser"';

/** The stored cursor; on the very first start, creates it at the current horizon. */
export async function loadCursor(pool: Pool): Promise<Cursor> {
  await pool.query(
    `INSERT INTO notifier_cursor (name, horizon) VALUES ($1, pg_snapshot_xmin(pg_current_snapshot()))
     ON CONFLICT (name) DO NOTHING`,
    [CURSOR_NAME],
  );
  const { rows } = await pool.query<Cursor>(`SELECT ${CURSOR_COLUMNS} FROM notifier_cursor WHERE name = $1`, [CURSOR_NAME]);
  return rows[0] as Cursor;
}

/**
 * Inside a transaction: locks the cursor row until commit and checks that it is still where
 * this notifier left it. Two notifiers (a leader that lost its lock and has not noticed yet,
 * and its successor) therefore never both write from the same position.
 */
export async function lockCursor(client: PoolClient, expected: Cursor): Promise<void> {
  const { rows } = await client.query<Cursor>(`SELECT ${CURSOR_COLUMNS} FROM notifier_cursor WHERE name = $1 FOR UPDATE`, [
    CURSOR_NAME,
  ]);
  const stored = rows[0];
  if (!stored || !sameCursor(stored, expected)) throw new CursorMovedError();
}

export async function saveCursor(client: PoolClient, cursor: Cursor): Promise<void> {
  await client.query(
    `UPDATE notifier_cursor SET horizon = $2::xid8, event_id = $3, after_user = $4, updated_at = now() WHERE name = $1`,
    [CURSOR_NAME, cursor.horizon, cursor.eventId, cursor.afterUser],
  );
}

/** The xmin of a fresh snapshot: every transaction below it has ended. */
export async function currentHorizon(pool: Pool): Promise<string> {
  const { rows } = await pool.query<{ xmin: string }>('SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin');
  return (rows[0] as { xmin: string }).xmin;
}

const ROW_COLUMNS = 'id::text AS id, txid::text AS txid, type, data, created_at';

/** Up to `limit` notifiable-typed match rows after the cursor and below `upTo`, in (txid, id) order. */
export async function readPending(pool: Pool, after: Cursor, upTo: string, limit: number): Promise<PendingRow[]> {
  const { rows } = await pool.query<PendingRow>(
    `SELECT ${ROW_COLUMNS} FROM outbox
      WHERE stream LIKE 'match:%' AND (txid, id) > ($1::xid8, $2::bigint) AND txid < $3::xid8 AND type = ANY($4::text[])
      ORDER BY outbox.txid, outbox.id LIMIT $5`, // the columns, not the select list's text aliases
    [after.horizon, after.eventId, upTo, NOTIFIABLE_OUTBOX_TYPES, limit],
  );
  return rows;
}

/** The row a cursor is in the middle of (undefined if it was pruned meanwhile). */
export async function readRow(pool: Pool, id: string): Promise<PendingRow | undefined> {
  const { rows } = await pool.query<PendingRow>(`SELECT ${ROW_COLUMNS} FROM outbox WHERE id = $1`, [id]);
  return rows[0];
}
