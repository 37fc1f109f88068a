import type pg from 'pg';
import { ID_PATTERN, baseChannel, privateLeagueOf, type Channel, type LeagueAccessData, type OutboxEvent } from '@matchcast/protocol';

/**
 * A league as authorization needs it: whether it is private, and who its members are (kept for
 * a public league too, so a privacy flip is applied from its event alone).
 */
export interface LeagueState {
  private: boolean;
  members: Set<string>;
  /**
   * Access may have been granted since this was read (a member added, the league made public):
   * the next decision reads it again; until then it still decides, as the stricter answer.
   */
  stale?: boolean;
}

/** One read's answer: the league of each match and team asked for, and the state of each league involved. */
export interface AccessRows {
  matches: Map<string, string>;
  teams: Map<string, string>;
  leagues: Map<string, LeagueState>;
}

export type AccessReader = (ids: { matches: string[]; teams: string[]; leagues: string[] }) => Promise<AccessRows>;

/** What the authorization decision asks of league access (synchronously, once loaded). */
export interface LeagueVisibility {
  /** The state of the league this match, team or league channel belongs to; undefined when not known (no such league, team or match). */
  stateOf(channel: Channel): LeagueState | undefined;
}

/**
 * Whose subscriptions to a league's channels end: one user's (removed from the league), or every
 * non-admin's the league no longer grants — all of them when its members are not known here.
 */
export type Revocation =
  | { league: string; user: string }
  | {
      league: string;
      user?: undefined;
      membersKnown: boolean;
      /** Match channels (by base name) whose league no read here has told as this one: a private league's event names them. */
      unread?: readonly string[];
    };

/** The channel kinds whose access a league decides. */
type LeagueKind = 'match' | 'team' | 'league';
const LEAGUE_KINDS: ReadonlySet<string> = new Set<LeagueKind>(['match', 'team', 'league']);

/** A base channel name (`match:m1`) as the kind and id leagueOf takes; undefined for another kind. */
function parseBase(name: string): { kind: LeagueKind; id: string } | undefined {
  const colon = name.indexOf(':');
  const kind = name.slice(0, colon);
  return colon > 0 && LEAGUE_KINDS.has(kind) ? { kind: kind as LeagueKind, id: name.slice(colon + 1) } : undefined;
}

/** Nothing known: every league public (sessions without league access, unit tests). */
export const ALL_PUBLIC: LeagueVisibility = { stateOf: () => undefined };

/** Reads of the same ids while the cache changed under them are retried this often, then answered uncached. */
const MAX_READS = 3;

/**
 * Which league each match and team belongs to, and each league's privacy and members, for
 * authorizing match, team and league channels: read once when a client subscribes or resumes
 * a channel not known yet (one query for all of them), never per delivered message.
 *
 * A match's or team's league rarely changes (an operator may move one), so those entries are read
 * again only when an event says another league's (below); a league's state is kept current from its own stream: every privacy or membership change is a
 * `league_access` event on league:<id>, which every gateway receives, and observe() applies
 * what it takes away to the cached state (no query) before the event is fanned out; what it
 * grants is read again. A private league's event about a match whose league was not read here
 * as that one (a channel subscribed before its match existed, or the match moved into the
 * league since) ends the subscriptions to it first.
 */
export class LeagueAccess implements LeagueVisibility {
  private readonly matchLeague = new Map<string, string>();
  private readonly teamLeague = new Map<string, string>();
  private readonly leagues = new Map<string, LeagueState>();
  /** Bumped by every applied change: a read that overlapped one is read again. */
  private epoch = 0;
  /** Reads under way, by the ids they fetch (`match:<id>`, `team:<id>`, `league:<id>`). */
  private readonly reading = new Map<string, Promise<void>>();
  /** Told the leagues first read here, or that a read found a match or team in that this cache did not have it in (onPlaced). */
  private placed: (leagues: ReadonlySet<string>) => void = () => undefined;

  constructor(
    private readonly read: AccessReader,
    private readonly reads: { inc(): void } = { inc: () => undefined },
  ) {}

  /**
   * Calls `listener` after each read that found matches or teams in leagues this cache did not
   * have them in (not read before, or moved since), or leagues not read before, with those
   * leagues: subscriptions to them were granted without that knowledge (by another read, or as
   * unknown ids) and are decided again.
   */
  onPlaced(listener: (leagues: ReadonlySet<string>) => void): void {
    this.placed = listener;
  }

  stateOf(channel: Channel): LeagueState | undefined {
    const league = this.leagueOf(channel);
    return league === undefined ? undefined : this.leagues.get(league);
  }

  /** The league a match, team or league channel belongs to, when known. */
  leagueOf(channel: Pick<Channel, 'kind' | 'id'>): string | undefined {
    switch (channel.kind) {
      case 'league':
        return this.leagues.has(channel.id!) ? channel.id : undefined;
      case 'team':
        return this.teamLeague.get(channel.id!);
      case 'match':
        return this.matchLeague.get(channel.id!);
      default:
        return undefined;
    }
  }

  /**
   * The ids among these channel names whose league (or league state) is not cached — all of them
   * with `again` (what an event says may have changed since it was cached); undefined when none.
   */
  missing(names: Iterable<string>, again = false): { matches: string[]; teams: string[]; leagues: string[] } | undefined {
    const wanted = { match: new Set<string>(), team: new Set<string>(), league: new Set<string>() };
    for (const name of names) {
      const channel = parseBase(baseChannel(name));
      // A malformed id is not read: the decision refuses it with its own code.
      if (!channel || !ID_PATTERN.test(channel.id) || (!again && this.known(this.leagueOf(channel)))) continue;
      wanted[channel.kind].add(channel.id);
    }
    if (wanted.match.size + wanted.team.size + wanted.league.size === 0) return undefined;
    return { matches: [...wanted.match], teams: [...wanted.team], leagues: [...wanted.league] };
  }

  /** Whether a decision about this league needs no read: its state is cached and not stale. */
  private known(league: string | undefined): boolean {
    const state = league === undefined ? undefined : this.leagues.get(league);
    return state !== undefined && !state.stale;
  }

  /**
   * Reads what these names need (one query); ids that do not exist stay unknown (they may be
   * created later). Ids a read under way already fetches are waited for, not read again: a
   * thousand clients resuming the same matches at once (a gateway's clients moving to this one)
   * cost one query, not a thousand. With `again`, cached ones are read too (a re-check).
   */
  async load(names: Iterable<string>, again = false): Promise<void> {
    const wanted = this.missing(names, again);
    if (!wanted) return;
    const waits = new Set<Promise<void>>();
    const own: typeof wanted = { matches: [], teams: [], leagues: [] };
    const keys: string[] = [];
    for (const [kind, ids, mine] of [['match', wanted.matches, own.matches], ['team', wanted.teams, own.teams], ['league', wanted.leagues, own.leagues]] as const) {
      for (const id of ids) {
        const running = this.reading.get(`${kind}:${id}`);
        if (running) waits.add(running);
        else (mine.push(id), keys.push(`${kind}:${id}`));
      }
    }
    if (keys.length > 0) {
      const read = this.readAndCache(own).finally(() => {
        for (const key of keys) if (this.reading.get(key) === read) this.reading.delete(key);
      });
      for (const key of keys) this.reading.set(key, read);
      waits.add(read);
    }
    await Promise.all(waits);
  }

  private async readAndCache(wanted: { matches: string[]; teams: string[]; leagues: string[] }): Promise<void> {
    const placed = new Set<string>();
    for (let attempt = 1; ; attempt++) {
      const epoch = this.epoch;
      this.reads.inc();
      const rows = await this.read(wanted);
      for (const [known, found] of [[this.matchLeague, rows.matches], [this.teamLeague, rows.teams]] as const) {
        for (const [id, league] of found) {
          if (known.get(id) !== league) placed.add(league);
          known.set(id, league);
        }
      }
      // A change applied while the read ran may be missing from it: read again rather than cache the older state.
      if (epoch === this.epoch || attempt === MAX_READS) {
        // Still overlapped after the last read: its states decide this once (stale), and the next decision reads again.
        for (const [id, state] of rows.leagues) {
          // A league first read here may have subscribers granted as an unknown id (public).
          if (!this.leagues.has(id)) placed.add(id);
          if (epoch === this.epoch) this.leagues.set(id, state);
          else if (!this.leagues.has(id)) this.leagues.set(id, { ...state, stale: true });
        }
        if (placed.size > 0) this.placed(placed);
        return;
      }
    }
  }

  /**
   * Applies what an event says about league access, before it is fanned out, and returns whose
   * subscriptions it ends (the caller ends them at once), else undefined. Cheap for every other
   * event: a type comparison, and for a private league's match two map look-ups.
   *
   * The bus is not trusted to grant: an event can only take access away. What it says about a
   * league (`league_access`, on that league's own stream only) is applied when it withdraws (a
   * member removed, the league made private); when it grants, the cached state only turns stale
   * and the next decision reads it. Which league a match or team belongs to is only ever taken
   * from a read, never from an event: a private league's event about a match not read here as
   * that league's (not read at all, or read as another's: moved since) ends the subscriptions to
   * it that the league's members do not hold, and makes reads under way read again (they may
   * predate the match). Its teams are not judged by it: they may be other leagues' (a club in a
   * private cup), whose followers keep their channel (the event itself reaches only members:
   * Sessions.audience); unreadTeams names those to read.
   */
  observe(event: Pick<OutboxEvent, 'type' | 'stream' | 'match_id' | 'data'>): Revocation | undefined {
    if (event.type === 'league_access') return this.applyAccess(event.stream, event.data as unknown as LeagueAccessData);
    const league = privateLeagueOf(event);
    if (league === undefined || !event.match_id) return undefined;
    const state = this.leagues.get(league);
    if (state && !state.private) {
      // The flip's own event may come later (its stream behind): the snapshot already says private.
      state.private = true;
      return { league, membersKnown: true };
    }
    if (this.matchLeague.get(event.match_id) === league && this.known(league)) return undefined;
    this.epoch++;
    return { league, membersKnown: state !== undefined, unread: [`match:${event.match_id}`] };
  }

  /**
   * The team channels (`team:<id>`) an event names whose league a read here has not told as it:
   * - a league's table (league_table), for every team it lists not read here as that league's: a
   *   team created after a client subscribed to its channel (a team's creation has no event of
   *   its own, but it gives its league's table a row), a team moved into the league (its table
   *   changes too), or a visiting club (read again: its own league decides);
   * - a private league's match event, for its teams not read here at all.
   * The caller reads these again and decides their subscriptions by each team's own league.
   * Reads of them under way read again (they may predate the change). Undefined when none.
   */
  unreadTeams(event: Pick<OutboxEvent, 'type' | 'stream' | 'data'>): string[] | undefined {
    const table = tableLeague(event);
    const teams = table !== undefined ? tableTeams(event.data) : privateLeagueOf(event) !== undefined ? matchTeams(event.data) : [];
    const names = teams
      .filter((id) => ID_PATTERN.test(id) && (table !== undefined ? this.teamLeague.get(id) !== table : !this.teamLeague.has(id)))
      .map((id) => `team:${id}`);
    if (names.length === 0) return undefined;
    this.outdateReads(names);
    return names;
  }

  /**
   * Reads a stream's placement for an event on it (StreamGate): the event says its team or
   * league exists now, so a read of it already under way (a look-up that may have run before it
   * was created, and found nothing) reads again rather than be taken as the answer.
   */
  loadForEvent(stream: string): Promise<void> {
    this.outdateReads([stream]);
    return this.load([stream]);
  }

  /** Reads under way of any of these names (`team:<id>`) read again: what they found may predate an event. */
  private outdateReads(names: readonly string[]): void {
    if (names.some((name) => this.reading.has(name))) this.epoch++;
  }

  private applyAccess(stream: string, data: LeagueAccessData): Revocation | undefined {
    if (!data || typeof data.league_id !== 'string' || stream !== `league:${data.league_id}`) return undefined;
    const league = data.league_id;
    this.epoch++;
    const state = this.leagues.get(league);
    if (data.change === 'member_removed' && typeof data.user_id === 'string') {
      state?.members.delete(data.user_id);
      return (state ? state.private : data.private === true) ? { league, user: data.user_id } : undefined;
    }
    if (data.change === 'privacy' && data.private === true) {
      if (state) state.private = true;
      return { league, membersKnown: state !== undefined };
    }
    if (state) state.stale = true;
    return undefined;
  }

  /** Whether this identity's user is a member of this league as cached here (admins are decided by the caller). */
  isMember(league: string, userId: string | undefined): boolean {
    return userId !== undefined && this.leagues.get(league)?.members.has(userId) === true;
  }

  /** Whether a channel name (or topic channel) belongs to this league, by the cached match and team leagues. */
  belongsTo(name: string, league: string): boolean {
    const channel = parseBase(baseChannel(name));
    if (!channel) return false;
    return channel.kind === 'league' ? channel.id === league : this.leagueOf(channel) === league;
  }

  /** Whether this league is cached here as private. */
  isPrivate(league: string): boolean {
    return this.leagues.get(league)?.private === true;
  }

  /** Whether this league's state is cached (a decision about it needs no read). */
  has(league: string): boolean {
    return this.leagues.has(league);
  }
}

/** The league whose table a `league_table` event on its own stream is, else undefined. */
function tableLeague(event: Pick<OutboxEvent, 'type' | 'stream'>): string | undefined {
  return event.type === 'league_table' && event.stream.startsWith('league:') ? event.stream.slice('league:'.length) : undefined;
}

/** The team ids a league table's rows name. */
function tableTeams(data: OutboxEvent['data']): string[] {
  const rows = (data as { rows?: unknown }).rows;
  if (!Array.isArray(rows)) return [];
  return rows.map((row) => (row as { team?: { id?: unknown } } | null)?.team?.id).filter((id): id is string => typeof id === 'string');
}

/** The team ids a match snapshot names. */
function matchTeams(data: OutboxEvent['data']): string[] {
  return [data.home_team, data.away_team].map((team) => (team as { id?: unknown } | undefined)?.id).filter((id): id is string => typeof id === 'string');
}

/** The reader on a connection from `run` (the gateway's pool for client-driven reads): one statement. */
export function leagueAccessReader(run: <T>(work: (db: pg.PoolClient) => Promise<T>) => Promise<T | undefined>): AccessReader {
  return async ({ matches, teams, leagues }) => {
    const rows = await run(
      async (db) =>
        (
          await db.query<{ kind: string; id: string; league_id: string; private: boolean; members: string[] | null }>(
            `WITH refs AS (
               SELECT 'match' AS kind, id, league_id FROM match WHERE id = ANY($1::text[])
               UNION ALL SELECT 'team', id, league_id FROM team WHERE id = ANY($2::text[])
               UNION ALL SELECT 'league', id, id FROM league WHERE id = ANY($3::text[]))
             SELECT r.kind, r.id, r.league_id, l.private,
                    ARRAY(SELECT m.user_id FROM league_member m WHERE m.league_id = l.id) AS members
               FROM refs r JOIN league l ON l.id = r.league_id`,
            [matches, teams, leagues],
          )
        ).rows,
    );
    const answer: AccessRows = { matches: new Map(), teams: new Map(), leagues: new Map() };
    for (const row of rows ?? []) {
      if (row.kind === 'match') answer.matches.set(row.id, row.league_id);
      if (row.kind === 'team') answer.teams.set(row.id, row.league_id);
      answer.leagues.set(row.league_id, { private: row.private, members: new Set(row.members ?? []) });
    }
    return answer;
  };
}
