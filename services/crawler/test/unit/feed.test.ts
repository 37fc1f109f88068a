import { FeedError, parseFeedLine, prefixIds, validateOp, type FeedOp } from '../../src';

const fixture = {
  op: 'fixture',
  match_id: 'm1',
  kickoff_at: '2025-01-01T15:00:00.000Z',
  league: { id: 'epl', name: 'Premier League' },
  home: { id: 'ars', name: 'Arsenal', short_name: 'ARS' },
  away: { id: 'che', name: 'Chelsea' },
};

function problem(value: unknown): string {
  try {
    validateOp(value);
  } catch (error) {
    expect(error).toBeInstanceOf(FeedError);
    expect((error as FeedError).code).toBe('FEED_INVALID');
    return (error as Error).message;
  }
  throw new Error('expected a FeedError');
}

describe('validateOp', () => {
  it('accepts every operation kind and returns a clean copy', () => {
    const ops: unknown[] = [
      fixture,
      { op: 'status', match_id: 'm1', status: 'live', at_ms: 12.5 },
      { op: 'clock', match_id: 'm1', minute: 12, period: 'first_half' },
      { op: 'playclock', match_id: 'm1', seconds: 725, running: true },
      { op: 'goal', match_id: 'm1', minute: 12, team: 'home', player: 'Saka', assist: 'Ødegaard', kind: 'goal', event_id: 'e1' },
      { op: 'card', match_id: 'm1', minute: 30, team: 'away', player: 'Caicedo', card: 'yellow' },
      { op: 'substitution', match_id: 'm1', minute: 60, team: 'away', player_out: 'Palmer', player_in: 'Nkunku' },
      { op: 'lineup', match_id: 'm1', players: [{ player_id: 'p1', name: 'Raya', team: 'home', starter: true, shirt_number: 22, position: 'GK' }] },
      { op: 'matchdata', match_id: 'm1', venue: 'Emirates', attendance: 60_000, extra: { tv: 'BBC' } },
    ];
    for (const op of ops) expect(validateOp(op)).toEqual(op);
    const withUndefined = validateOp({ op: 'status', match_id: 'm1', status: 'live' });
    expect(Object.keys(withUndefined)).toEqual(['op', 'match_id', 'status']);
  });

  it('names the field and the problem', () => {
    expect(problem({ op: 'kickoff', match_id: 'm1' })).toMatch(/^op must be one of fixture, status/);
    expect(problem({ op: 'status', status: 'live' })).toMatch(/^match_id must be an id/);
    expect(problem({ op: 'status', match_id: 'has space', status: 'live' })).toMatch(/^match_id must be an id/);
    expect(problem({ op: 'status', match_id: 'm1', status: 'paused' })).toMatch(/^status must be one of scheduled/);
    expect(problem({ op: 'clock', match_id: 'm1', minute: -1, period: 'first_half' })).toMatch(/^minute must be an integer from 0/);
    expect(problem({ op: 'goal', match_id: 'm1', minute: 3, team: 'left', player: 'x' })).toMatch(/^team must be one of home, away/);
    expect(problem({ op: 'status', match_id: 'm1', status: 'live', minite: 3 })).toBe('minite is not a known field');
    expect(problem({ ...fixture, home: { id: 'ars', name: 'Arsenal', colour: 'red' } })).toBe('home.colour is not a known field');
    expect(problem({ ...fixture, away: fixture.home })).toBe('home.id and away.id must differ');
    expect(problem({ ...fixture, kickoff_at: 'tomorrow' })).toMatch(/^kickoff_at must be an ISO 8601 timestamp/);
    expect(problem({ op: 'status', match_id: 'm1', status: 'live', at_ms: -5 })).toMatch(/^at_ms must be a number/);
    const player = { player_id: 'p1', name: 'A', team: 'home', starter: true };
    expect(problem({ op: 'lineup', match_id: 'm1', players: [player, player] })).toBe('players must not repeat a player_id');
    expect(problem({ op: 'lineup', match_id: 'm1', players: [{ ...player, starter: 'yes' }] })).toBe('players[0].starter must be true or false');
    expect(problem([1, 2])).toBe('an operation must be a JSON object');
  });
});

describe('validateOp: snapshot', () => {
  const snapshot = (change: Record<string, unknown> = {}) => ({
    op: 'snapshot',
    match_id: 'fd-1',
    kickoff_at: '2026-05-01T15:00:00Z',
    league: { id: 'fd-PL', name: 'Premier League' },
    home: { id: 'fd-t1', name: 'Home' },
    away: { id: 'fd-t2', name: 'Away' },
    status: 'live',
    score: { home: 1, away: 0 },
    confirmed: false,
    ...change,
  });

  it('accepts a snapshot with and without events (an empty list is an answer too)', () => {
    expect(validateOp(snapshot())).toEqual(snapshot());
    expect(validateOp(snapshot({ events: [] }))).toEqual(snapshot({ events: [] }));
    const goal = { event_id: 'g1', kind: 'goal', minute: 3, team: 'home', player: 'Nine' };
    expect(validateOp(snapshot({ events: [goal], minute: 4, provider_updated_at: '2026-05-01T15:04:00Z' }))).toMatchObject({ events: [goal], minute: 4 });
  });

  it.each([
    [{ score: { home: 100, away: 0 } }, 'score.home must be an integer from 0 to 99'],
    [{ confirmed: 'yes' }, 'confirmed must be true or false'],
    [{ status: 'IN_PLAY' }, 'status must be one of'],
    [{ events: [{ event_id: 'e', kind: 'substitution', minute: 1, team: 'home', player: 'A' }] }, 'a substitution needs player_in'],
    [{ events: [{ event_id: 'e', kind: 'goal', minute: 1, team: 'home', player: 'A' }, { event_id: 'e', kind: 'goal', minute: 2, team: 'home', player: 'B' }] }, 'events must not repeat an event_id'],
    [{ events: [{ event_id: 'e', kind: 'goal', minute: 1, team: 'home', player: 'A', xg: 0.3 }] }, 'events[0].xg is not a known field'],
  ])('rejects %j: %s', (change, problem) => {
    expect(() => validateOp(snapshot(change))).toThrow(problem);
  });
});

describe('parseFeedLine', () => {
  it('skips blank and comment lines', () => {
    expect(parseFeedLine('', 1)).toBeUndefined();
    expect(parseFeedLine('   ', 2)).toBeUndefined();
    expect(parseFeedLine('# recorded 2025-01-01', 3)).toBeUndefined();
  });

  it('reports bad JSON and bad operations with the file and line number', () => {
    expect(() => parseFeedLine('{"op":"status",', 7, 'feeds/x.jsonl')).toThrow(/^feeds\/x\.jsonl:7: not valid JSON/);
    try {
      parseFeedLine('{"op":"status","match_id":"m1","status":"over"}', 12);
      throw new Error('expected a FeedError');
    } catch (error) {
      expect(error).toBeInstanceOf(FeedError);
      expect((error as FeedError).line).toBe(12);
      expect((error as Error).message).toMatch(/^feed:12: status must be one of/);
    }
  });

  it('parses a valid line', () => {
    expect(parseFeedLine(JSON.stringify(fixture), 1)).toEqual(fixture);
  });
});

describe('prefixIds', () => {
  it('prefixes league, team and match ids, and nothing else', () => {
    const op = validateOp(fixture);
    const prefixed = prefixIds(op, 't1_') as Extract<FeedOp, { op: 'fixture' }>;
    expect(prefixed.match_id).toBe('t1_m1');
    expect(prefixed.league.id).toBe('t1_epl');
    expect([prefixed.home.id, prefixed.away.id]).toEqual(['t1_ars', 't1_che']);
    expect(prefixed.home.name).toBe('Arsenal');
    expect((op as typeof prefixed).home.id).toBe('ars'); // the input is not mutated
    const goal = prefixIds(validateOp({ op: 'goal', match_id: 'm1', minute: 1, team: 'home', player: 'p', event_id: 'e1' }), 'x');
    expect(goal).toMatchObject({ match_id: 'xm1', event_id: 'e1' });
    expect(prefixIds(op, '')).toBe(op);
  });
});
