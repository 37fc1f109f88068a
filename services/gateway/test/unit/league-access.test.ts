import type { Identity } from '@matchcast/auth';
import { authorizeChannel, mayAccess } from '../../src/sessions/authorize';
import { LeagueAccess, type AccessRows } from '../../src/sessions/league-access';

const DB = {
  matches: { c1: 'cup', m1: 'epl' } as Record<string, string>,
  teams: { t1: 'cup', ars: 'epl' } as Record<string, string>,
  leagues: { cup: { private: true, members: ['alice'] }, epl: { private: false, members: [] } } as Record<string, { private: boolean; members: string[] }>,
};

/** A reader over DB that counts its queries; `during` runs while a read is in flight. */
function access(during?: () => void) {
  const reads: unknown[] = [];
  const cache = new LeagueAccess(async (ids) => {
    reads.push(ids);
    during?.();
    const rows: AccessRows = { matches: new Map(), teams: new Map(), leagues: new Map() };
    const league = (id: string) => rows.leagues.set(id, { private: DB.leagues[id]!.private, members: new Set(DB.leagues[id]!.members) });
    for (const id of ids.matches) if (DB.matches[id]) (rows.matches.set(id, DB.matches[id]!), league(DB.matches[id]!));
    for (const id of ids.teams) if (DB.teams[id]) (rows.teams.set(id, DB.teams[id]!), league(DB.teams[id]!));
    for (const id of ids.leagues) if (DB.leagues[id]) league(id);
    return rows;
  });
  return { cache, reads };
}

const user = (id: string | undefined, roles: string[] = []): Identity => ({ userId: id, roles: new Set(roles) }) as Identity;
const event = (data: Record<string, unknown>) => ({ type: 'league_access' as const, stream: `league:${data.league_id}`, match_id: null, data });

describe('LeagueAccess and the decision on private leagues', () => {
  it('reads what a decision needs once (one query for all names), then decides from the cache', async () => {
    const { cache, reads } = access();
    const names = ['match:c1', 'team:ars/results', 'team:t1', 'league:cup', 'all', 'user:x', 'match:bad id'];
    expect(cache.missing(names)).toEqual({ matches: ['c1'], teams: ['ars', 't1'], leagues: ['cup'] });
    await cache.load(names);
    expect(reads).toHaveLength(1);
    expect(cache.missing(names)).toBeUndefined();
    await cache.load(names);
    expect(reads).toHaveLength(1);
    // Loads at once (clients moving here together) share the read of what they have in common.
    const together = access();
    await Promise.all([together.cache.load(['match:c1', 'match:m1']), together.cache.load(['match:m1']), together.cache.load(['match:c1', 'team:t1'])]);
    expect(together.reads).toEqual([
      { matches: ['c1', 'm1'], teams: [], leagues: [] },
      { matches: [], teams: ['t1'], leagues: [] },
    ]);
    expect(together.cache.missing(['match:c1', 'match:m1', 'team:t1'])).toBeUndefined();
    for (const name of ['match:c1', 'match:c1/live', 'league:cup', 'team:t1']) {
      expect(() => authorizeChannel(user('carol'), name, undefined, cache)).toThrow(expect.objectContaining({ code: 'FORBIDDEN_CHANNEL' }));
      expect(mayAccess(user('alice'), name, undefined, cache)).toBe(true);
      expect(mayAccess(user('ops', ['admin']), name, undefined, cache)).toBe(true);
      expect(mayAccess(user(undefined, ['service']), name, undefined, cache)).toBe(false);
    }
    expect(mayAccess(user('carol'), 'team:ars', undefined, cache)).toBe(true);
    // Unknown ids stay unknown (not cached: they may be created later) and are public until then.
    await cache.load(['match:nope']);
    expect(cache.missing(['match:nope'])).toEqual({ matches: ['nope'], teams: [], leagues: [] });
  });

  it('applies from league_access events only what takes access away; what grants it is read again', async () => {
    const { cache, reads } = access();
    await cache.load(['league:cup', 'league:epl', 'match:m1']);
    // Added: not taken from the event (the bus may be forged); the league is read at the next decision.
    expect(cache.observe(event({ league_id: 'cup', change: 'member_added', private: true, user_id: 'bob' }))).toBeUndefined();
    expect(cache.missing(['league:cup'])).toEqual({ matches: [], teams: [], leagues: ['cup'] });
    await cache.load(['league:cup']);
    expect(reads).toHaveLength(2);
    expect(mayAccess(user('bob'), 'league:cup', undefined, cache)).toBe(false); // DB: alice only
    expect(cache.observe(event({ league_id: 'cup', change: 'member_removed', private: true, user_id: 'alice' }))).toEqual({ league: 'cup', user: 'alice' });
    expect(mayAccess(user('alice'), 'league:cup', undefined, cache)).toBe(false);
    expect(cache.observe(event({ league_id: 'epl', change: 'privacy', private: true, user_id: null }))).toEqual({ league: 'epl', membersKnown: true });
    expect(mayAccess(user('carol'), 'match:m1', undefined, cache)).toBe(false);
    expect(cache.belongsTo('match:m1/live', 'epl')).toBe(true);
    expect(cache.observe(event({ league_id: 'epl', change: 'privacy', private: false, user_id: null }))).toBeUndefined();
    expect(cache.missing(['match:m1'])).toEqual({ matches: ['m1'], teams: [], leagues: [] });
    // A league not cached here: its members are not known, so every non-admin's subscription ends.
    expect(cache.observe(event({ league_id: 'other', change: 'privacy', private: true, user_id: null }))).toEqual({ league: 'other', membersKnown: false });
    expect(cache.observe(event({ league_id: 'other', change: 'member_removed', private: true, user_id: 'bob' }))).toEqual({ league: 'other', user: 'bob' });
    expect(cache.observe(event({ league_id: 'other', change: 'member_removed', private: false, user_id: 'bob' }))).toBeUndefined();
    expect(reads).toHaveLength(2);
  });

  it("ignores a league_access event on any stream but its own league's", async () => {
    const { cache } = access();
    await cache.load(['league:cup']);
    const forged = { ...event({ league_id: 'cup', change: 'member_removed', private: true, user_id: 'alice' }), stream: 'league:zz1' };
    expect(cache.observe(forged)).toBeUndefined();
    expect(mayAccess(user('alice'), 'league:cup', undefined, cache)).toBe(true);
    const granting = { ...event({ league_id: 'cup', change: 'privacy', private: false, user_id: null }), stream: 'match:m1' };
    expect(cache.observe(granting)).toBeUndefined();
    expect(cache.missing(['league:cup'])).toBeUndefined();
    expect(mayAccess(user('carol'), 'league:cup', undefined, cache)).toBe(false);
  });

  it("never takes a match's or team's league from an event; a private league's event about a match not read here as its names it, its unread teams only for a re-check", async () => {
    const { cache } = access();
    const match = (id: string, league: Record<string, unknown>, stream = `match:${id}`) => ({
      type: 'match_update' as const, stream, match_id: id,
      data: { league, home_team: { id: 'h' }, away_team: { id: 'ars' } },
    });
    expect(cache.observe(match('x1', { id: 'epl', name: 'E' }))).toBeUndefined();
    expect(cache.unreadTeams(match('x1', { id: 'epl', name: 'E' }))).toBeUndefined();
    expect(cache.belongsTo('match:x1', 'epl')).toBe(false);
    expect(cache.observe(match('x2', { id: 'cup', name: 'C', private: true }))).toEqual({ league: 'cup', membersKnown: false, unread: ['match:x2'] });
    expect(cache.unreadTeams(match('x2', { id: 'cup', name: 'C', private: true }))).toEqual(['team:h', 'team:ars']);
    expect(cache.missing(['match:x2'])).toEqual({ matches: ['x2'], teams: [], leagues: [] });
    await cache.load(['league:cup', 'team:ars']);
    expect(cache.observe(match('x3', { id: 'cup', name: 'C', private: true }))).toEqual({ league: 'cup', membersKnown: true, unread: ['match:x3'] });
    // A visiting club read here as its own league's is not re-checked per match event.
    expect(cache.unreadTeams(match('x3', { id: 'cup', name: 'C', private: true }))).toEqual(['team:h']);
    // Read here: the event says nothing new.
    await cache.load(['match:c1']);
    expect(cache.observe({ ...match('c1', { id: 'cup', private: true }), data: { league: { id: 'cup', private: true } } })).toBeUndefined();
    // Read here as another league's: the match moved into the private one (or the event is forged): it ends and is read again.
    await cache.load(['match:m1']);
    expect(cache.observe(match('m1', { id: 'cup', name: 'C', private: true }))).toEqual({ league: 'cup', membersKnown: true, unread: ['match:m1'] });
    // A forged event putting a private match in a public league changes nothing.
    await cache.load(['league:epl']);
    expect(cache.observe(match('c1', { id: 'epl', name: 'E' }, 'all'))).toBeUndefined();
    expect(mayAccess(user('carol'), 'match:c1', undefined, cache)).toBe(false);
  });

  it("names a league table's teams not read here as that league's (new, moved or visiting) for a re-check, and reports where a read placed them", async () => {
    const { cache } = access();
    const placed: string[][] = [];
    cache.onPlaced((leagues) => placed.push([...leagues]));
    await cache.load(['team:t1', 'team:ars']);
    expect(placed).toEqual([['cup', 'epl']]);
    const table = (league: string, teams: string[]) => ({ type: 'league_table' as const, stream: `league:${league}`, data: { rows: teams.map((id) => ({ team: { id } })) } });
    expect(cache.unreadTeams(table('cup', ['t1', 'ars', 'nt', 'bad id']))).toEqual(['team:ars', 'team:nt']);
    expect(cache.unreadTeams(table('epl', ['ars']))).toBeUndefined();
    // Read again, a team in the league it was in places nothing new; a moved one does.
    await cache.load(['team:ars'], true);
    expect(placed).toHaveLength(1);
    DB.teams.ars = 'cup';
    try {
      await cache.load(['team:ars'], true);
    } finally {
      DB.teams.ars = 'epl';
    }
    expect(placed).toEqual([['cup', 'epl'], ['cup']]);
    expect(mayAccess(user('carol'), 'team:ars', undefined, cache)).toBe(false);
  });

  it("applies a league's turn to private from its match's snapshot when that comes before the league's own event", async () => {
    const { cache } = access();
    await cache.load(['match:m1']);
    expect(mayAccess(user('carol'), 'match:m1', undefined, cache)).toBe(true);
    const later = { type: 'match_update' as const, stream: 'match:m1', match_id: 'm1', data: { league: { id: 'epl', private: true } } };
    expect(cache.observe(later)).toEqual({ league: 'epl', membersKnown: true });
    expect(mayAccess(user('carol'), 'match:m1', undefined, cache)).toBe(false);
  });

  it('after a grant, keeps deciding with the stricter state until it is read again', async () => {
    const { cache } = access();
    await cache.load(['league:cup']);
    expect(cache.observe(event({ league_id: 'cup', change: 'member_added', private: false, user_id: 'carol' }))).toBeUndefined();
    expect(mayAccess(user('carol'), 'league:cup', undefined, cache)).toBe(false);
    expect(cache.missing(['league:cup'])).toEqual({ matches: [], teams: [], leagues: ['cup'] });
  });

  it("reads again a read that overlapped a private league's event about a match not read here (it may predate the match)", async () => {
    let events = 0;
    const { cache, reads } = access(() => {
      if (events++ === 0) cache.observe({ type: 'match_update', stream: 'match:c1', match_id: 'c1', data: { league: { id: 'cup', private: true } } });
    });
    await cache.load(['match:c1']);
    expect(reads).toHaveLength(2);
  });

  it('a read that overlapped a change is read again rather than cached stale', async () => {
    let flips = 0;
    const { cache, reads } = access(() => {
      if (flips++ === 0) cache.observe(event({ league_id: 'cup', change: 'member_removed', private: true, user_id: 'alice' }));
    });
    await cache.load(['league:cup']);
    expect(reads).toHaveLength(2);
  });

  it('answers with a read still overlapped by changes after three tries, but does not keep it: the next decision reads again', async () => {
    const { cache, reads } = access(() => cache.observe(event({ league_id: 'cup', change: 'member_removed', private: true, user_id: 'zed' })));
    await cache.load(['league:cup']);
    expect(reads).toHaveLength(3);
    expect(mayAccess(user('alice'), 'league:cup', undefined, cache)).toBe(true);
    expect(cache.missing(['league:cup'])).toEqual({ matches: [], teams: [], leagues: ['cup'] });
  });
});
