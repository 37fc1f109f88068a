import type { MatchStatus, Ref } from '@matchcast/protocol';
import type { Pool } from 'pg';

/** A league's table as GET /api/leagues/{id}/table answers it. */
export interface LeagueTable {
  league: Ref;
  /** The rows as league_table carries them (005's matchcast_standing_json), in position order. */
  rows: unknown[];
  /** The seq of league:<id> read in the same snapshot: resume from here for live updates. */
  stream_seq: number;
}

export interface ScheduleFilter {
  from?: string;
  to?: string;
  statuses?: MatchStatus[];
  limit: number;
}

export interface ScheduledMatch {
  match_id: string;
  kickoff_at: string;
  status: MatchStatus;
  home_team: Ref;
  away_team: Ref;
  score: { home: number; away: number };
}

const ISO = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

/** League data for the public match views: the table (kept by the database) and the fixture list. */
export class LeagueStore {
  constructor(private readonly db: Pool) {}

  /** The table, or undefined for an unknown league. One statement: rows and stream_seq are one snapshot. */
  async table(leagueId: string): Promise<LeagueTable | undefined> {
    const { rows } = await this.db.query<LeagueTable>(
      `SELECT jsonb_build_object('id', l.id, 'name', l.name) AS league,
              matchcast_standing_json(l.id) AS rows,
              COALESCE((SELECT last_seq FROM stream_counter WHERE stream = 'league:' || l.id), 0)::int AS stream_seq
         FROM league l WHERE l.id = $1`,
      [leagueId],
    );
    return rows[0];
  }

  /** The league's matches by kickoff (then id), or undefined for an unknown league. */
  async schedule(leagueId: string, filter: ScheduleFilter): Promise<{ league: Ref; matches: ScheduledMatch[]; truncated: boolean } | undefined> {
    const { rows } = await this.db.query<{ league: Ref; matches: ScheduledMatch[] | null }>(
      `SELECT jsonb_build_object('id', l.id, 'name', l.name) AS league,
              (SELECT jsonb_agg(s.m ORDER BY s.kickoff_at, s.id) FROM (
                 SELECT m.id, m.kickoff_at, jsonb_build_object(
                          'match_id', m.id, 'kickoff_at', to_char(m.kickoff_at AT TIME ZONE 'UTC', ${ISO}), 'status', m.status,
                          'home_team', jsonb_build_object('id', h.id, 'name', h.name),
                          'away_team', jsonb_build_object('id', a.id, 'name', a.name),
                          'score', jsonb_build_object('home', COALESCE(sb.home_score, 0), 'away', COALESCE(sb.away_score, 0))) AS m
                   FROM match m
                   JOIN team h ON h.id = m.home_team_id
                   JOIN team a ON a.id = m.away_team_id
                   LEFT JOIN scoreboard sb ON sb.match_id = m.id
                  WHERE m.league_id = l.id
                    AND ($2::timestamptz IS NULL OR m.kickoff_at >= $2)
                    AND ($3::timestamptz IS NULL OR m.kickoff_at < $3)
                    AND ($4::text[] IS NULL OR m.status = ANY($4))
                  ORDER BY m.kickoff_at, m.id
                  LIMIT $5) s) AS matches
         FROM league l WHERE l.id = $1`,
      [leagueId, filter.from ?? null, filter.to ?? null, filter.statuses ?? null, filter.limit + 1],
    );
    const row = rows[0];
    if (!row) return undefined;
    const matches = row.matches ?? [];
    return { league: row.league, matches: matches.slice(0, filter.limit), truncated: matches.length > filter.limit };
  }
}
