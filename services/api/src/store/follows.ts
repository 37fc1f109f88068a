import type { Pool } from 'pg';
import type { FollowKind } from '../http/params';
import { inTransaction } from '@matchcast/db';

export interface Follow {
  kind: FollowKind;
  id: string;
  /** The team's or league's name, "Home vs Away" for a match; null if it has since been removed. */
  name: string | null;
  created_at: Date;
}

export type FollowResult =
  | { outcome: 'created' | 'existing'; follow: Follow }
  | { outcome: 'no_such_target' }
  | { outcome: 'limit_reached'; limit: number };

// Fixed SQL per kind (never built from input): does the target exist, and what is it called. A
// private league's league, teams and matches exist only for its members ($1): anyone else gets
// 404 as for an unknown id (and would never be notified about them anyway).
const TARGET_NAME: Record<FollowKind, string> = {
  team: 'SELECT name FROM team WHERE id = $3 AND matchcast_league_visible(league_id, $1, false)',
  league: 'SELECT name FROM league WHERE id = $3 AND matchcast_league_visible(id, $1, false)',
  match: `SELECT h.name || ' vs ' || a.name FROM match m JOIN team h ON h.id = m.home_team_id JOIN team a ON a.id = m.away_team_id
           WHERE m.id = $3 AND matchcast_league_visible(m.league_id, $1, false)`,
};

/** A user's follows of teams, leagues and matches (what the notifier notifies them about). */
export class FollowStore {
  constructor(
    private readonly db: Pool,
    private readonly maxPerUser: number,
  ) {}

  /**
   * The user's follows with their targets' names; a private league's league, team or match is
   * named only to its members (a follow made while it was public stays, nameless, like one
   * whose target is gone), by the same rule as TARGET_NAME.
   */
  async list(userId: string): Promise<Follow[]> {
    const { rows } = await this.db.query<Follow>(
      `SELECT f.kind, f.target_id AS id, f.created_at,
              CASE WHEN matchcast_league_visible(COALESCE(t.league_id, l.id, m.league_id), $1, false)
                   THEN CASE f.kind WHEN 'team' THEN t.name WHEN 'league' THEN l.name ELSE h.name || ' vs ' || a.name END
              END AS name
         FROM follow f
         LEFT JOIN team t ON f.kind = 'team' AND t.id = f.target_id
         LEFT JOIN league l ON f.kind = 'league' AND l.id = f.target_id
         LEFT JOIN match m ON f.kind = 'match' AND m.id = f.target_id
         LEFT JOIN team h ON h.id = m.home_team_id
         LEFT JOIN team a ON a.id = m.away_team_id
        WHERE f.user_id = $1
        ORDER BY f.created_at DESC, f.kind, f.target_id`,
      [userId],
    );
    return rows;
  }

  /**
   * Follows the target if it exists and the user is under the cap; idempotent (an existing
   * follow is returned as it is). The checks and the insert are one statement, run under a
   * per-user lock (a transaction advisory lock on a hash of the id) held to commit: concurrent
   * follows of one user (of the same target or of different ones near the cap) take turns,
   * each seeing the others' rows, so the cap holds.
   */
  async follow(userId: string, kind: FollowKind, id: string): Promise<FollowResult> {
    const row = await inTransaction(this.db, async (client) => {
      await client.query(`SELECT pg_advisory_xact_lock(hashtextextended('matchcast.follow:' || $1, 0))`, [userId]);
      const { rows } = await client.query<{ name: string | null; found: boolean; existing_at: Date | null; inserted_at: Date | null; total: number }>(
        `WITH target AS (${TARGET_NAME[kind]}),
              existing AS (SELECT created_at FROM follow WHERE user_id = $1 AND kind = $2 AND target_id = $3),
              total AS (SELECT count(*)::int AS n FROM follow WHERE user_id = $1),
              inserted AS (
                INSERT INTO follow (user_id, kind, target_id)
                SELECT $1, $2, $3 WHERE EXISTS (SELECT FROM target) AND NOT EXISTS (SELECT FROM existing) AND (SELECT n FROM total) < $4
                ON CONFLICT DO NOTHING
                RETURNING created_at)
         SELECT (SELECT * FROM target LIMIT 1) AS name, EXISTS (SELECT FROM target) AS found,
                (SELECT created_at FROM existing) AS existing_at, (SELECT created_at FROM inserted) AS inserted_at,
                (SELECT n FROM total) AS total`,
        [userId, kind, id, this.maxPerUser],
      );
      return rows[0]!;
    });
    if (!row.found) return { outcome: 'no_such_target' };
    const at = row.inserted_at ?? row.existing_at;
    if (at === null) {
      if (row.total >= this.maxPerUser) return { outcome: 'limit_reached', limit: this.maxPerUser };
      // Under the lock only a writer outside the API could have made it meanwhile.
      throw new Error('follow neither inserted nor found');
    }
    return { outcome: row.inserted_at ? 'created' : 'existing', follow: { kind, id, name: row.name, created_at: at } };
  }

  /** Idempotent: unfollowing what is not followed is not an error. */
  async unfollow(userId: string, kind: FollowKind, id: string): Promise<void> {
    await this.db.query('DELETE FROM follow WHERE user_id = $1 AND kind = $2 AND target_id = $3', [userId, kind, id]);
  }
}
