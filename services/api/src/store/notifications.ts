import { ProtocolError } from '@matchcast/protocol';
import type { Pool } from 'pg';
import { inTransaction } from '@matchcast/db';
import type { NotificationInput } from '../validate/notification-input';

/** A notification as the API and the user stream carry it (matchcast_notification_json). */
export type NotificationJson = Record<string, unknown> & { id: string };

export interface NotificationPage {
  readonly notifications: NotificationJson[];
  readonly total: number;
  readonly unread_count: number;
  readonly stream_seq: number;
}

export interface ListQuery {
  readonly userId: string;
  readonly unreadOnly: boolean;
  readonly limit: number;
  readonly offset: number;
  /** Keyset position: only ids below it. */
  readonly beforeId: string | null;
}

// "Not expired": the one definition, shared with matchcast_unread_count.
const VISIBLE = '(n.expires_at IS NULL OR n.expires_at > now())';

/**
 * Reads and writes of notifications. Writes go only through 004_users.sql's functions, which
 * append each change to the user's stream in the same transaction; every statement is scoped
 * to the user, so another user's id simply finds nothing.
 */
export class NotificationStore {
  constructor(private readonly db: Pool) {}

  /**
   * One page (newest first, plus one more row to tell whether another page follows), the
   * counts, and the seq of the user's stream: one statement, so all four come from one
   * snapshot and the stream's events after `stream_seq` are exactly the changes not in it.
   */
  async page(query: ListQuery): Promise<NotificationPage> {
    const { rows } = await this.db.query<{ notifications: NotificationJson[]; total: number; unread_count: number; stream_seq: string }>(
      `SELECT
         (SELECT COALESCE(jsonb_agg(p.n ORDER BY p.id DESC), '[]')
            FROM (SELECT n.id, matchcast_notification_json(n) AS n FROM notification n
                   WHERE n.user_id = $1 AND ${VISIBLE} AND (NOT $2::boolean OR NOT n.is_read) AND ($3::bigint IS NULL OR n.id < $3::bigint)
                   ORDER BY n.id DESC LIMIT $4 OFFSET $5) p) AS notifications,
         (SELECT count(*) FROM notification n WHERE n.user_id = $1 AND ${VISIBLE} AND (NOT $2::boolean OR NOT n.is_read))::int AS total,
         (SELECT count(*) FROM notification n WHERE n.user_id = $1 AND ${VISIBLE} AND NOT n.is_read)::int AS unread_count,
         COALESCE((SELECT last_seq FROM stream_counter WHERE stream = 'user:' || $1), 0)::text AS stream_seq`,
      [query.userId, query.unreadOnly, query.beforeId, query.limit + 1, query.offset],
    );
    const row = rows[0]!;
    return { notifications: row.notifications, total: row.total, unread_count: row.unread_count, stream_seq: Number(row.stream_seq) };
  }

  async unreadCount(userId: string): Promise<number> {
    const { rows } = await this.db.query<{ count: number }>('SELECT matchcast_unread_count($1) AS count', [userId]);
    return rows[0]!.count;
  }

  /** The notification after marking it read; undefined when the user has no such notification. */
  async markRead(userId: string, id: string): Promise<NotificationJson | undefined> {
    const { rows } = await this.db.query<{ n: NotificationJson }>(
      'SELECT matchcast_notification_json(r) AS n FROM matchcast_mark_read($1, $2::bigint) AS r WHERE r.id IS NOT NULL',
      [userId, id],
    );
    return rows[0]?.n;
  }

  async markAllRead(userId: string): Promise<number> {
    const { rows } = await this.db.query<{ marked: number }>('SELECT matchcast_mark_all_read($1) AS marked', [userId]);
    return rows[0]!.marked;
  }

  /** False when the user has no such notification. */
  async delete(userId: string, id: string): Promise<boolean> {
    const { rows } = await this.db.query<{ deleted: boolean }>('SELECT matchcast_delete_notification($1, $2::bigint) AS deleted', [userId, id]);
    return rows[0]!.deleted;
  }

  /**
   * Creates one per recipient in one transaction. Not created: recipients who have or had this
   * source key (`duplicates`: a notification with it, or one with it that they deleted or the
   * cleanup removed, for 24 hours after it was created: 026_notification_keys_outlive_rows.sql),
   * and those matchcast_notify_users leaves out (not members of the private league the
   * notification is about). What the recipient has or had under the key must be this very
   * notification (a replay): one that differs in any field — for a deleted one, its fingerprint —
   * means the key was reused for another notification, and IDEMPOTENCY_KEY_REUSED rolls back the
   * whole request. The check runs after matchcast_notify_users has taken the recipients' stream
   * locks, so a concurrent request with the key (or a deletion) has committed by then and is seen.
   */
  async create(input: NotificationInput): Promise<{ created: Array<{ id: string; user_id: string }>; duplicates: number }> {
    const data = input.data === null ? null : JSON.stringify(input.data);
    return inTransaction(this.db, async (client) => {
      const { rows: created } = await client.query<{ id: string; user_id: string }>(
        `SELECT r.id::text AS id, r.user_id FROM matchcast_notify_users($1::text[], $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10::timestamptz, $11) AS r
          ORDER BY r.id`,
        [input.userIds, input.title, input.message, input.type, input.matchId, input.teamId, input.leagueId, data, input.priority, input.expiresAt, input.sourceKey],
      );
      if (input.sourceKey === null || created.length === input.userIds.length) return { created, duplicates: 0 };
      const { rows: [existing] } = await client.query<{ duplicates: number; reused: boolean }>(
        `WITH request (title, message, type, priority, match_id, team_id, league_id, data, expires_at) AS (
           SELECT $4::text, $5::text, $6::text, COALESCE($7, 'normal'), $8::text, $9::text, $10::text, COALESCE($11::jsonb, '{}'), $12::timestamptz
         ), held (differs) AS (
           SELECT (n.title, n.message, n.type, n.priority, n.match_id, n.team_id, n.league_id, n.data, n.expires_at) IS DISTINCT FROM r
             FROM notification n, request r
            WHERE n.user_id = ANY($1::text[]) AND n.source_key = $2 AND n.id <> ALL($3::bigint[])
           UNION ALL
           SELECT k.fingerprint <> matchcast_notification_fingerprint(r.title, r.message, r.type, r.priority, r.match_id, r.team_id,
                                                                      r.league_id, r.data, r.expires_at)
             FROM matchcast_held_notification_keys($1::text[], $2) k, request r
         )
         SELECT count(*)::int AS duplicates, COALESCE(bool_or(differs), false) AS reused FROM held`,
        [input.userIds, input.sourceKey, created.map((row) => row.id), input.title, input.message, input.type, input.priority, input.matchId, input.teamId, input.leagueId, data, input.expiresAt],
      );
      if (existing!.reused) {
        throw new ProtocolError('IDEMPOTENCY_KEY_REUSED', 'this idempotency_key was used for another notification (title, message, type, priority, ids, data or expires_at differ)');
      }
      return { created, duplicates: existing!.duplicates };
    });
  }
}
