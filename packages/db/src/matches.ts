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

/** Matches (live first, then latest kick-off) with their snapshot and stream head. */
export async function readMatches(db: Queryable, statuses: readonly string[] | null, limit: number): Promise<MatchState[]> {
  const { rows } = await db.query<MatchState>(
    `SELECT matchcast_match_snapshot(m.id) AS match, 'match:' || m.id AS stream,
            COALESCE(c.last_seq, 0)::int AS seq
       FROM match m LEFT JOIN stream_counter c ON c.stream = 'match:' || m.id
      WHERE $1::text[] IS NULL OR m.status = ANY($1)
      ORDER BY (m.status IN ('live', 'half_time')) DESC, m.kickoff_at DESC
      LIMIT $2`,
    [statuses, limit],
  );
  return rows;
}
