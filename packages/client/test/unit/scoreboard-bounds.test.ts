/**
 * The scoreboard stays bounded on a page left open for days: ended matches leave after
 * `endedTtlMs`, past `maxMatches` the oldest leave (ended ones first), kept matches stay, and a
 * match that left comes back whole with its next event. The client is a stand-in that hands
 * events straight to the subscribers and records positions as the real one does.
 */
import type { MatchcastClient } from '../../src/client';
import { createScoreboard, type ScoreboardChange, type ScoreboardOptions } from '../../src/scoreboard';
import type { DeliveredMessage, EventType, MatchSnapshot, MatchesResponse } from '../../src/wire';

const HOUR = 60 * 60 * 1000;

function match(id: string, status: MatchSnapshot['status'] = 'live', home = 0): MatchSnapshot {
  return {
    match_id: id, status, minute: 10, score: { home, away: 0 },
    home_team: { id: `${id}h`, name: `Home ${id}` }, away_team: { id: `${id}a`, name: `Away ${id}` },
    league: { id: 'epl', name: 'Premier League' }, kickoff_at: '2026-11-23T15:00:00.000Z',
  };
}

/** A client stand-in, a board on it over `snapshot` (a getter: reloads read it again), and a way to send events. */
async function boardOver(snapshot: () => MatchesResponse['matches'], options: Partial<ScoreboardOptions> = {}) {
  const handlers = new Map<string, (event: DeliveredMessage) => void>();
  const positions = new Map<string, number>();
  let reset: (() => unknown) | undefined;
  const client = {
    addResetHandler: (handler: () => unknown) => ((reset = handler), () => undefined),
    seed: (seeded: Record<string, number>) => Object.entries(seeded).forEach(([stream, seq]) => positions.set(stream, Math.max(seq, positions.get(stream) ?? 0))),
    position: (stream: string) => positions.get(stream),
    subscribe: (channel: string, onEvent: (event: DeliveredMessage) => void) => {
      handlers.set(channel, onEvent);
      return () => handlers.delete(channel);
    },
  } as unknown as MatchcastClient;
  const board = createScoreboard(client, { fetchSnapshot: async () => ({ matches: snapshot() }), ...options });
  await board.ready;
  const changes: string[] = [];
  board.on('change', (change: ScoreboardChange) => changes.push(`${change.match.match_id}:${change.removed ?? change.match.status}`));
  const send = (type: EventType, data: Record<string, unknown>, channel = 'all') => {
    const stream = `match:${data.match_id as string}`;
    const seq = (positions.get(stream) ?? 0) + 1;
    positions.set(stream, seq);
    handlers.get(channel)!({ type, match_id: data.match_id as string, data, timestamp: '', channel, stream, seq, id: String(seq) });
  };
  return { board, changes, send, reload: () => reset!(), channels: () => [...handlers.keys()] };
}

const ids = (board: { matches: ReadonlyMap<string, unknown> }) => [...board.matches.keys()].sort();

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

describe('scoreboard bounds: ended matches', () => {
  it('drops a finished or cancelled match endedTtlMs after its last change (telling listeners), keeps live and postponed ones, and stops its timer on close', async () => {
    const { board, changes, send } = await boardOver(() => [], { endedTtlMs: 2 * HOUR });
    for (const [id, status] of [['live1', 'live'], ['over', 'finished'], ['off', 'cancelled'], ['later', 'postponed']] as const) send('match_status', { ...match(id, status), old_status: 'scheduled', match_date: '' });
    changes.length = 0;

    jest.advanceTimersByTime(HOUR);
    send('match_update', { ...match('over', 'finished', 2), update_type: 'score' }); // a corrected final score: its time starts again
    jest.advanceTimersByTime(HOUR);
    expect(ids(board)).toEqual(['later', 'live1', 'over']);
    expect(changes).toEqual(['over:finished', 'off:expired']);

    jest.advanceTimersByTime(HOUR);
    expect(ids(board)).toEqual(['later', 'live1']);
    expect(changes.at(-1)).toBe('over:expired');
    jest.advanceTimersByTime(100 * HOUR);
    expect(ids(board)).toEqual(['later', 'live1']);

    send('match_status', { ...match('live1', 'finished'), old_status: 'live', match_date: '' });
    expect(jest.getTimerCount()).toBe(1);
    board.close();
    expect(jest.getTimerCount()).toBe(0);
  });

  it('defaults to 3 hours', async () => {
    const { board } = await boardOver(() => [{ match: match('over', 'finished'), stream: 'match:over', seq: 1 }]);
    jest.advanceTimersByTime(3 * HOUR - 1);
    expect(ids(board)).toEqual(['over']);
    jest.advanceTimersByTime(1);
    expect(ids(board)).toEqual([]);
  });
});

describe('scoreboard bounds: maxMatches', () => {
  it('past maxMatches (kept ones not counted) drops the oldest ended matches first, then the oldest by last change, never a kept one', async () => {
    const snapshot = [{ match: match('a'), stream: 'match:a', seq: 1 }, { match: match('b', 'finished'), stream: 'match:b', seq: 1 }];
    const { board, changes, send } = await boardOver(() => snapshot, { maxMatches: 2 });
    const releaseA = board.keep('a');
    send('match_update', { ...match('c'), update_type: 'score' });
    expect(ids(board)).toEqual(['a', 'b', 'c']);
    changes.length = 0;

    send('match_update', { ...match('d'), update_type: 'score' });
    expect(ids(board)).toEqual(['a', 'c', 'd']);
    expect(changes).toEqual(['d:live', 'b:limit']);

    send('match_update', { ...match('c', 'live', 1), update_type: 'score' }); // c is now newer than d
    send('match_update', { ...match('e'), update_type: 'score' });
    expect(ids(board)).toEqual(['a', 'c', 'e']); // a is the oldest but kept: d goes
    expect(changes.at(-1)).toBe('d:limit');

    releaseA();
    expect(ids(board)).toEqual(['c', 'e']); // released: a counts again, and is the oldest
    expect(changes.at(-1)).toBe('a:limit');
    releaseA(); // once only
    expect(ids(board)).toEqual(['c', 'e']);
    board.close();
  });

  it('keeps a match whose channel the board follows, until unfollowed', async () => {
    const { board, send, channels } = await boardOver(() => [], { maxMatches: 1 });
    const unfollow = board.follow('match:mine');
    send('match_update', { ...match('mine'), update_type: 'score' }, 'match:mine');
    send('match_update', { ...match('other'), update_type: 'score' });
    send('match_update', { ...match('third'), update_type: 'score' });
    expect(ids(board)).toEqual(['mine', 'third']);
    unfollow();
    expect(channels()).toEqual(['all']);
    expect(ids(board)).toEqual(['third']);
    board.close();
  });

  it('refuses a bound that is not a number above 0', () => {
    const client = {} as MatchcastClient;
    for (const bad of [0, -1, NaN, '5']) {
      expect(() => createScoreboard(client, { fetchSnapshot: async () => ({ matches: [] }), maxMatches: bad as number })).toThrow(/`maxMatches` must be a number above 0/);
      expect(() => createScoreboard(client, { fetchSnapshot: async () => ({ matches: [] }), endedTtlMs: bad as number })).toThrow(/`endedTtlMs` must be a number above 0/);
    }
  });
});

describe('scoreboard bounds: a match that left comes back', () => {
  it('whole, with its next event of any kind (each carries the match state); a fragment of an unknown match is not a match', async () => {
    const { board, changes, send } = await boardOver(() => [], { endedTtlMs: HOUR });
    send('match_update', { ...match('m', 'finished', 3), update_type: 'score' });
    jest.advanceTimersByTime(HOUR);
    expect(board.get('m')).toBeUndefined();

    send('match_status', { match_id: 'm', status: 'live', old_status: 'finished', match_date: '' }); // no state: nothing to show
    expect(board.get('m')).toBeUndefined();
    send('match_status', { ...match('m', 'live', 3), old_status: 'finished', match_date: '' });
    expect(board.get('m')).toEqual(match('m', 'live', 3));
    expect(changes).toEqual(['m:finished', 'm:expired', 'm:live']);
    board.close();
  });

  it('a reload brings it back only if its snapshot is newer than when it left', async () => {
    let snapshot = [{ match: match('m', 'finished', 1), stream: 'match:m', seq: 5 }];
    const { board, reload } = await boardOver(() => snapshot, { endedTtlMs: HOUR });
    jest.advanceTimersByTime(HOUR);
    expect(board.get('m')).toBeUndefined();

    await reload();
    expect(board.get('m')).toBeUndefined();
    snapshot = [{ match: match('m', 'finished', 2), stream: 'match:m', seq: 6 }];
    await reload();
    expect(board.get('m')).toEqual(match('m', 'finished', 2));
    board.close();
  });

  it('a reload that finds a match unchanged (same seq) does not start its time again', async () => {
    const snapshot = [{ match: match('m', 'finished', 1), stream: 'match:m', seq: 5 }];
    const { board, reload } = await boardOver(() => snapshot, { endedTtlMs: HOUR });
    jest.advanceTimersByTime(HOUR / 2);
    await reload();
    expect(board.get('m')).toEqual(match('m', 'finished', 1));
    jest.advanceTimersByTime(HOUR / 2);
    expect(board.get('m')).toBeUndefined();
    board.close();
  });
});
