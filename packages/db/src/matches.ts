import type { MatchSnapshot } from '@matchcast/protocol';
import type { Pool, PoolClient } from 'pg';

type Queryable = Pick<Pool | PoolClient, 'query'>;

/** The values of match.status (its CHECK constraint in 001_domain.sql). */
export const MATCH_STATUSES: readonly string[] = ['scheduled', 'live', 'half_time', 'finished', 'postponed', 'cancelled'];

export interface MatchState {
  match: MatchSnapshot;
  stream: string;
  seq: number;
}

/** Who reads: a private league's matches are listed for its members and admins only (008's matchcast_league_visible). */
export interface MatchViewer {
  userId: string | null;
  admin: boolean;
}

/** Matches (live first, then latest kick-off) with their snapshot and stream head; a private league's only for its members and admins. */
export async function readMatches(
  db: Queryable,
  statuses: readonly string[] | null,
  limit: number,
  viewer: MatchViewer = { userId: null, admin: false },
): Promise<MatchState[]> {
  const { rows } = await db.query<MatchState>(
    `SELECT matchcast_match_snapshot(m.id) AS match, 'match:' || m.id AS stream,
            COALESCE(c.last_seq, 0)::int AS seq
       FROM match m LEFT JOIN stream_counter c ON c.stream = 'match:' || m.id
      WHERE ($1::text[] IS NULL OR m.status = ANY($1)) AND matchcast_league_visible(m.league_id, $3, $4)
      ORDER BY (m.status IN ('live', 'half_time')) DESC, m.kickoff_at DESC
      LIMIT $2`,
    [statuses, limit, viewer.userId, viewer.admin],
  );
  return rows;
}
