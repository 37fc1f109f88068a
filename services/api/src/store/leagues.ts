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

/**
 * Who reads: a private league's data is visible to its members and admins only (008's
 * matchcast_league_visible); anyone else gets exactly what an unknown league gets.
 */
export interface Viewer {
  userId: string | null;
  admin: boolean;
}
export const ANONYMOUS: Viewer = { userId: null, admin: false };

export type MemberOutcome = 'added' | 'existing' | 'removed' | 'not_member' | 'no_league';

export interface LeagueJson {
  id: string;
  name: string;
  country: string | null;
  private: boolean;
}

/** League data for the public match views: the table (kept by the database) and the fixture list. */
export class LeagueStore {
  constructor(private readonly db: Pool) {}

  /** The table, or undefined for an unknown league (or one the viewer may not see). One statement: rows and stream_seq are one snapshot. */
  async table(leagueId: string, viewer: Viewer = ANONYMOUS): Promise<LeagueTable | undefined> {
    const { rows } = await this.db.query<LeagueTable>(
      `SELECT jsonb_build_object('id', l.id, 'name', l.name) AS league,
              matchcast_standing_json(l.id) AS rows,
              COALESCE((SELECT last_seq FROM stream_counter WHERE stream = 'league:' || l.id), 0)::int AS stream_seq
         FROM league l WHERE l.id = $1 AND matchcast_league_visible(l.id, $2, $3)`,
      [leagueId, viewer.userId, viewer.admin],
    );
    return rows[0];
  }

  /** The league's matches by kickoff (then id), or undefined for an unknown league. */
  async schedule(leagueId: string, filter: ScheduleFilter, viewer: Viewer = ANONYMOUS): Promise<{ league: Ref; matches: ScheduledMatch[]; truncated: boolean } | undefined> {
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
         FROM league l WHERE l.id = $1 AND matchcast_league_visible(l.id, $6, $7)`,
      [leagueId, filter.from ?? null, filter.to ?? null, filter.statuses ?? null, filter.limit + 1, viewer.userId, viewer.admin],
    );
    const row = rows[0];
    if (!row) return undefined;
    const matches = row.matches ?? [];
    return { league: row.league, matches: matches.slice(0, filter.limit), truncated: matches.length > filter.limit };
  }

  /** The league with its privacy flag (admins), or undefined. */
  async get(leagueId: string): Promise<LeagueJson | undefined> {
    const { rows } = await this.db.query<LeagueJson>('SELECT id, name, country, private FROM league WHERE id = $1', [leagueId]);
    return rows[0];
  }

  /** Sets the privacy flag; undefined for an unknown league. A change appends league_access on league:<id>. */
  async setPrivate(leagueId: string, isPrivate: boolean): Promise<LeagueJson | undefined> {
    const { rows } = await this.db.query<{ outcome: string }>('SELECT outcome FROM matchcast_set_league_private($1, $2)', [leagueId, isPrivate]);
    return rows[0]!.outcome === 'no_league' ? undefined : this.get(leagueId);
  }

  async addMember(leagueId: string, userId: string, addedBy: string): Promise<MemberOutcome> {
    const { rows } = await this.db.query<{ outcome: MemberOutcome }>('SELECT outcome FROM matchcast_add_league_member($1, $2, $3)', [leagueId, userId, addedBy]);
    return rows[0]!.outcome;
  }

  async removeMember(leagueId: string, userId: string): Promise<MemberOutcome> {
    const { rows } = await this.db.query<{ outcome: MemberOutcome }>('SELECT outcome FROM matchcast_remove_league_member($1, $2)', [leagueId, userId]);
    return rows[0]!.outcome;
  }

  /**
   * Up to `limit` + 1 members by user id after `afterUser` (one more tells whether another page
   * follows): one range scan of the primary key (league_id, user_id), however many members.
   * Undefined for an unknown league.
   */
  async members(leagueId: string, limit: number, afterUser: string | null): Promise<{ user_id: string; added_by: string; added_at: string }[] | undefined> {
    const { rows } = await this.db.query<{ members: { user_id: string; added_by: string; added_at: string }[] }>(
      `SELECT COALESCE((SELECT jsonb_agg(jsonb_build_object('user_id', p.user_id, 'added_by', p.added_by,
                 'added_at', to_char(p.added_at AT TIME ZONE 'UTC', ${ISO})) ORDER BY p.user_id)
                 FROM (SELECT m.user_id, m.added_by, m.added_at FROM league_member m
                        WHERE m.league_id = l.id AND ($2::text IS NULL OR m.user_id > $2)
                        ORDER BY m.user_id LIMIT $3) p), '[]'::jsonb) AS members
         FROM league l WHERE l.id = $1`,
      [leagueId, afterUser, limit + 1],
    );
    return rows[0]?.members;
  }
}
