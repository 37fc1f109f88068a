/**
 * Builds match objects in football-data.org v4's format, for the local feed server that the
 * demo runs and for the tests' scripted fixtures. Only the fields the adapter reads, plus the
 * few that make it look like the real thing.
 */
export type FdStatus = 'SCHEDULED' | 'TIMED' | 'IN_PLAY' | 'PAUSED' | 'FINISHED' | 'POSTPONED' | 'SUSPENDED' | 'CANCELLED';

export interface FdTeam {
  id: number;
  name: string;
  tla?: string;
}

export interface FdGoal {
  minute: number;
  team: 'home' | 'away';
  scorer: { id: number; name: string };
  assist?: { id: number; name: string };
  type?: 'REGULAR' | 'PENALTY' | 'OWN';
}

export interface FdBooking {
  minute: number;
  team: 'home' | 'away';
  player: { id: number; name: string };
  card: 'YELLOW' | 'YELLOW_RED' | 'RED';
}

export interface FdMatchSpec {
  id: number;
  competition: { id: number; code: string; name: string };
  utcDate: string;
  status: FdStatus;
  home: FdTeam;
  away: FdTeam;
  score?: { home: number; away: number } | null;
  halfTime?: { home: number; away: number } | null;
  minute?: number;
  goals?: FdGoal[];
  bookings?: FdBooking[];
  lastUpdated?: string;
}

export function fdMatch(spec: FdMatchSpec): Record<string, unknown> {
  const side = (s: 'home' | 'away') => ({ id: spec[s].id, name: spec[s].name });
  return {
    area: { id: 2072, name: 'England', code: 'ENG' },
    competition: { ...spec.competition, type: 'LEAGUE' },
    id: spec.id,
    utcDate: spec.utcDate,
    status: spec.status,
    matchday: 1,
    stage: 'REGULAR_SEASON',
    lastUpdated: spec.lastUpdated ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    homeTeam: { ...spec.home, shortName: spec.home.name },
    awayTeam: { ...spec.away, shortName: spec.away.name },
    score: {
      winner: null,
      duration: 'REGULAR',
      fullTime: spec.score ? { home: spec.score.home, away: spec.score.away } : { home: null, away: null },
      halfTime: spec.halfTime ? { home: spec.halfTime.home, away: spec.halfTime.away } : { home: null, away: null },
    },
    ...(spec.minute === undefined ? {} : { minute: spec.minute }),
    ...(spec.goals
      ? {
          goals: spec.goals.map((g) => ({
            minute: g.minute,
            injuryTime: null,
            type: g.type ?? 'REGULAR',
            team: side(g.team),
            scorer: g.scorer,
            assist: g.assist ?? null,
          })),
        }
      : {}),
    ...(spec.bookings
      ? { bookings: spec.bookings.map((b) => ({ minute: b.minute, team: side(b.team), player: b.player, card: b.card })) }
      : {}),
  };
}

/** The body of `GET /v4/competitions/{code}/matches`. */
export function fdMatchList(competition: FdMatchSpec['competition'], matches: Record<string, unknown>[]): Record<string, unknown> {
  return {
    filters: { season: '2026' },
    resultSet: { count: matches.length },
    competition: { ...competition, type: 'LEAGUE' },
    matches,
  };
}
