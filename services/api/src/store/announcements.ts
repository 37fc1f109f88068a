import type { Pool } from 'pg';
import { ANONYMOUS, type Viewer } from './leagues';
import type { AnnouncementInput, AnnouncementTarget } from '../validate/announcement-input';

/** An announcement as the API and its stream carry it (matchcast_announcement_json). */
export type AnnouncementJson = Record<string, unknown> & { id: string; state: string };

export type CreateOutcome = 'created' | 'existing' | 'key_reused' | 'no_target';
export type UpdateOutcome = 'updated' | 'unchanged' | 'started' | 'bad_window' | 'expired' | 'not_found';
export type ExpireOutcome = 'expired' | 'already_expired' | 'not_found';

/**
 * Reads and writes of announcements. Writes go only through 007_announcements.sql's functions,
 * which publish, edit and expire in the same transaction as the event on the target's stream.
 */
export class AnnouncementStore {
  constructor(private readonly db: Pool) {}

  async create(input: AnnouncementInput, createdBy: string): Promise<{ outcome: CreateOutcome; announcement: AnnouncementJson | null }> {
    const { rows } = await this.db.query<{ outcome: CreateOutcome; announcement: AnnouncementJson | null }>(
      'SELECT outcome, announcement FROM matchcast_create_announcement($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)',
      [input.title, input.message, input.type, input.priority, input.target, input.targetId, input.startsAt, input.expiresAt, createdBy, input.idempotencyKey],
    );
    return rows[0]!;
  }

  async update(id: string, patch: Record<string, unknown>): Promise<{ outcome: UpdateOutcome; announcement: AnnouncementJson | null }> {
    const { rows } = await this.db.query<{ outcome: UpdateOutcome; announcement: AnnouncementJson | null }>(
      'SELECT outcome, announcement FROM matchcast_update_announcement($1::bigint, $2::jsonb)',
      [id, JSON.stringify(patch)],
    );
    return rows[0]!;
  }

  async expire(id: string): Promise<{ outcome: ExpireOutcome; announcement: AnnouncementJson | null }> {
    const { rows } = await this.db.query<{ outcome: ExpireOutcome; announcement: AnnouncementJson | null }>(
      'SELECT outcome, announcement FROM matchcast_expire_announcement($1::bigint)',
      [id],
    );
    return rows[0]!;
  }

  /**
   * One announcement; only a published one unless `anyState` (an admin). A private league's
   * (its target's league) only for its members and admins; an admin reads any, also one whose
   * target is gone (no league to ask matchcast_league_visible about), as it edits and withdraws it.
   */
  async get(id: string, anyState: boolean, viewer: Viewer = ANONYMOUS): Promise<AnnouncementJson | undefined> {
    const { rows } = await this.db.query<{ announcement: AnnouncementJson }>(
      `SELECT matchcast_announcement_json(a) AS announcement FROM announcement a
        WHERE a.id = $1::bigint AND (a.state = 'published' OR $2)
          AND ($4 OR a.target = 'everyone' OR matchcast_league_visible(matchcast_target_league(a.target, a.target_id), $3, $4))`,
      [id, anyState, viewer.userId, viewer.admin],
    );
    return rows[0]?.announcement;
  }

  /**
   * The target's active announcements (published, not past expiry), most urgent then newest
   * first, with its stream's seq read in the same snapshot (the client resumes from there);
   * undefined when the target does not exist. `target_id = $2` (everyone's is NULL by the
   * table's check), never IS NOT DISTINCT FROM, which no index serves: that scanned every
   * published announcement of the target's kind.
   */
  async listActive(
    target: AnnouncementTarget,
    targetId: string | null,
    limit: number,
    viewer: Viewer = ANONYMOUS,
  ): Promise<{ announcements: AnnouncementJson[]; stream: string; stream_seq: number } | undefined> {
    const { rows } = await this.db.query<{ exists: boolean; stream: string; stream_seq: string; announcements: AnnouncementJson[] }>(
      `SELECT matchcast_announcement_target_exists($1, $2) AND ($1 = 'everyone' OR matchcast_league_visible(matchcast_target_league($1, $2), $4, $5)) AS exists, s.stream,
              COALESCE((SELECT last_seq FROM stream_counter WHERE stream = s.stream), 0)::text AS stream_seq,
              COALESCE((SELECT jsonb_agg(j.announcement ORDER BY j.rank DESC, j.id DESC) FROM (
                 SELECT matchcast_announcement_json(a) AS announcement, a.id,
                        array_position(ARRAY['low', 'normal', 'high', 'urgent'], a.priority) AS rank
                   FROM announcement a
                  WHERE a.state = 'published' AND a.target = $1 AND ($1 = 'everyone' OR a.target_id = $2)
                    AND (a.expires_at IS NULL OR a.expires_at > now())
                  ORDER BY rank DESC, a.id DESC LIMIT $3) j), '[]'::jsonb) AS announcements
         FROM (SELECT matchcast_announcement_stream($1, $2) AS stream) s`,
      [target, targetId, limit, viewer.userId, viewer.admin],
    );
    const row = rows[0]!;
    if (!row.exists) return undefined;
    return { announcements: row.announcements, stream: row.stream, stream_seq: Number(row.stream_seq) };
  }
}
