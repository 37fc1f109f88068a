import { FeedError, keepValidEvents, parseFeedLine, prefixIds, validateOp, type FeedOp } from '../../src';

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
    expect(problem({ ...fixture, kickoff_at: 'tomorrow' })).toMatch(/^kickoff_at must be an ISO 8601 time with a zone/);
    expect(problem({ op: 'status', match_id: 'm1', status: 'live', at_ms: -5 })).toMatch(/^at_ms must be a number/);
    const player = { player_id: 'p1', name: 'A', team: 'home', starter: true };
    expect(problem({ op: 'lineup', match_id: 'm1', players: [player, player] })).toBe('players must not repeat a player_id');
    expect(problem({ op: 'lineup', match_id: 'm1', players: [{ ...player, starter: 'yes' }] })).toBe('players[0].starter must be true or false');
    expect(problem([1, 2])).toBe('an operation must be a JSON object');
  });
});

describe('validateOp: what Postgres could not store', () => {
  it.each([
    ['February 30th', '2026-02-30T15:00:00Z'],
    ['year 0', '0000-06-01T15:00:00Z'],
    ['year 10000 in UTC', '9999-12-31T23:00:00-05:00'],
    ['an offset beyond 15:59', '2026-05-01T15:00:00+23:59'],
    ['no zone', '2026-05-01T15:00:00'],
    ['a trailing remark', '2026-05-01T15:00:00Z (local)'],
  ])('refuses a kickoff_at with %s', (_what, kickoff_at) => {
    expect(problem({ ...fixture, kickoff_at })).toBe('kickoff_at must be an ISO 8601 time with a zone in the years 0001-9999, e.g. 2026-05-01T15:00:00Z');
  });

  it('keeps a good kickoff_at as written, whatever its zone', () => {
    for (const kickoff_at of ['2026-05-01T15:00Z', '2026-05-01T15:00:00.123456+15:59', '0001-01-01T00:00:00Z']) {
      expect(validateOp({ ...fixture, kickoff_at })).toMatchObject({ kickoff_at });
    }
  });

  it.each([
    ['NUL in a name', { ...fixture, home: { id: 'ars', name: 'Ars\u0000nal' } }, 'home.name'],
    ['a lone surrogate in a player', { op: 'goal', match_id: 'm1', minute: 3, team: 'home', player: 'Sak\ud800' }, 'player'],
    ['NUL in a key of extra', { op: 'matchdata', match_id: 'm1', extra: { deep: [{ 'k\u0000': 1 }] } }, 'extra'],
    ['NUL in a value of extra', { op: 'matchdata', match_id: 'm1', extra: { tv: ['BBC\u0000'] } }, 'extra'],
  ])('refuses %s', (_what, op, field) => {
    expect(problem(op)).toBe(`${field} must not contain NUL or unpaired surrogate characters`);
  });

  it('a replay line with such a value fails its pre-check, naming the line', () => {
    const line = JSON.stringify({ op: 'goal', match_id: 'm1', minute: 3, team: 'home', player: 'a\u0000b' });
    expect(() => parseFeedLine(line, 4, 'feeds/x.jsonl')).toThrow('feeds/x.jsonl:4: player must not contain NUL or unpaired surrogate characters');
  });
});

describe('keepValidEvents', () => {
  it('keeps the good events and reports each bad one; anything but an array is left to validateOp', () => {
    const good = { event_id: 'g1', kind: 'goal', minute: 3, team: 'home', player: 'Nine' };
    const problems: string[] = [];
    const kept = keepValidEvents([good, { ...good, event_id: 'g2', player: 'N\u0000' }, 'junk', { ...good, event_id: 'g3', minute: 500 }], problems);
    expect(kept).toEqual([good]);
    expect(problems).toEqual([
      'events[1].player must not contain NUL or unpaired surrogate characters',
      'events[2] must be an object',
      'events[3].minute must be an integer from 0 to 200',
    ]);
    expect(keepValidEvents('junk', problems)).toBe('junk');
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
