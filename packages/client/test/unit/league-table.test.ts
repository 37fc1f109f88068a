/**
 * The league table store against a scripted WebSocket and a scripted REST API: the table's
 * stream_seq seeds league:<id>, each league_table replaces the rows once (duplicates dropped by
 * seq), RESUME_TOO_OLD reloads, the token is optional; and Scoreboard.follow, which keeps the
 * league's match events reaching the scoreboard once the league channel is subscribed.
 */
import { MatchcastClient } from '../../src/client';
import { createLeagueTable, type LeagueTable } from '../../src/league-table';
import { createScoreboard } from '../../src/scoreboard';
import type { MatchSnapshot, StandingRow } from '../../src/wire';
import { FakeSocket } from './fake-socket';

const STREAM = 'league:epl';
const LEAGUE = { id: 'epl', name: 'Premier League' };
const flush = () => new Promise((resolve) => setImmediate(resolve));
const last = () => FakeSocket.all[FakeSocket.all.length - 1]!;

function row(position: number, team: string, points: number): StandingRow {
  return { position, team: { id: team, name: team.toUpperCase() }, played: 1, won: 0, drawn: 0, lost: 0, goals_for: 0, goals_against: 0, goal_difference: 0, points };
}
function tableEvent(seq: number, rows: StandingRow[]) {
  return { type: 'league_table', match_id: null, data: { league: LEAGUE, rows }, timestamp: '2026-01-01T00:00:00.000Z', channel: STREAM, stream: STREAM, seq, id: `o${seq}` };
}
const order = (store: LeagueTable) => store.rows.map((r) => `${r.position}${r.team.id}${r.points}`).join(' ');

let client: MatchcastClient;
let store: LeagueTable;
let snapshot: { league: typeof LEAGUE; rows: StandingRow[]; stream_seq: number };
let requests: { url: string; authorization: string | null }[];
let answer: { status: number; body?: unknown } | undefined;
const fetchImpl = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
  requests.push({ url: String(input), authorization: new Headers(init?.headers).get('authorization') });
  return new Response(JSON.stringify(answer?.body ?? snapshot), { status: answer?.status ?? 200 });
};

beforeEach(() => {
  FakeSocket.all = [];
  requests = [];
  answer = undefined;
  snapshot = { league: LEAGUE, rows: [row(1, 'ars', 0), row(2, 'che', 0)], stream_seq: 4 };
  client = new MatchcastClient({ url: 'ws://gw/ws', WebSocket: FakeSocket, pingIntervalMs: 0, backoff: { baseMs: 10, maxMs: 20, lostJitterMs: 10 } });
});
afterEach(() => {
  store?.close();
  client.close();
});

async function startLive(token?: () => string) {
  store = createLeagueTable(client, { baseUrl: 'http://app.test/', leagueId: 'epl', fetch: fetchImpl, token });
  await store.ready;
  client.connect();
  await flush();
  last().open();
  last().message({ type: 'subscribed', channels: [STREAM] });
}

it('loads the table without a token and subscribes league:<id> from its stream_seq', async () => {
  await startLive();
  expect(requests).toEqual([{ url: 'http://app.test/api/leagues/epl/table', authorization: null }]);
  expect(last().subscribes()).toEqual([{ action: 'subscribe', channels: [STREAM], resume: { [STREAM]: 4 } }]);
  expect([store.league, order(store), store.seq]).toEqual([LEAGUE, '1ars0 2che0', 4]);
});

it('sends the token when given one', async () => {
  await startLive(() => 'tok');
  expect(requests[0]!.authorization).toBe('Bearer tok');
});

it('replaces the rows with each league_table, once and in order; ignores other events on the channel', async () => {
  await startLive();
  const changes: number[] = [];
  store.on('change', (change) => changes.push(change.event!.seq));
  last().message(tableEvent(4, [row(1, 'zzz', 9)])); // at the snapshot's seq: already shown
  last().message(tableEvent(5, [row(1, 'che', 3), row(2, 'ars', 0)]));
  last().message({ type: 'match_update', match_id: 'm1', data: { match_id: 'm1' }, timestamp: 't', channel: STREAM, stream: 'match:m1', seq: 1, id: 'x' });
  last().message(tableEvent(5, [row(1, 'zzz', 9)])); // a duplicate
  last().message(tableEvent(6, [row(1, 'ars', 3), row(2, 'che', 3)]));
  expect(changes).toEqual([5, 6]);
  expect([order(store), store.seq]).toEqual(['1ars3 2che3', 6]);
});

it('on RESUME_TOO_OLD reloads the table, and continues after its seq', async () => {
  await startLive();
  snapshot = { league: LEAGUE, rows: [row(1, 'che', 6), row(2, 'ars', 3)], stream_seq: 9 };
  last().message({ type: 'error', code: 'RESUME_TOO_OLD', message: 'too old', stream: STREAM });
  last().message(tableEvent(9, [row(1, 'zzz', 0)]));
  last().message(tableEvent(10, [row(1, 'che', 9), row(2, 'ars', 3)]));
  await flush();
  await flush();
  expect(requests).toHaveLength(2);
  expect([order(store), store.seq, client.position(STREAM)]).toEqual(['1che9 2ars3', 10, 10]);
});

it('rejects ready with the API error code for an unknown league', async () => {
  answer = { status: 404, body: { error: 'NOT_FOUND', message: 'no league' } };
  store = createLeagueTable(client, { baseUrl: 'http://app.test', leagueId: 'nope', fetch: fetchImpl });
  await expect(store.ready).rejects.toMatchObject({ code: 'NOT_FOUND', status: 404 });
  expect(client.channels).toEqual([]);
});

it('Scoreboard.follow applies the match events arriving on the league channel', async () => {
  const match = { match_id: 'm1', status: 'live', minute: 10, score: { home: 0, away: 0 } } as unknown as MatchSnapshot;
  const scoreboard = createScoreboard(client, { fetchSnapshot: async () => ({ matches: [{ match, stream: 'match:m1', seq: 2 }] }) });
  await scoreboard.ready;
  await startLive();
  const stop = scoreboard.follow(STREAM);
  expect(client.channels.sort()).toEqual(['all', STREAM]);
  last().message({ type: 'match_update', match_id: 'm1', data: { ...match, score: { home: 1, away: 0 } }, timestamp: 't', channel: STREAM, stream: 'match:m1', seq: 3, id: 'x' });
  expect(scoreboard.get('m1')!.score).toEqual({ home: 1, away: 0 });
  stop();
  // The table still holds the channel: only the scoreboard's handler went.
  expect(client.channels.sort()).toEqual(['all', STREAM]);
  scoreboard.close();
});

it('ignores a league_table whose data is not a table: the rows stay an array', async () => {
  await startLive();
  last().message({ type: 'league_table', match_id: null, data: { league: LEAGUE, rows: 'nope' }, timestamp: 't', channel: STREAM, stream: STREAM, seq: 5, id: 'x' });
  last().message({ type: 'league_table', match_id: null, data: {}, timestamp: 't', channel: STREAM, stream: STREAM, seq: 6, id: 'y' });
  expect([store.league, order(store), store.seq]).toEqual([LEAGUE, '1ars0 2che0', 4]);
  last().message(tableEvent(7, [row(1, 'che', 3), row(2, 'ars', 0)]));
  expect([order(store), store.seq]).toEqual(['1che3 2ars0', 7]);
});
