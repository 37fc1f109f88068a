/**
 * The scoreboard's reaction to schedule_update (005): a moved, postponed or cancelled match takes
 * the snapshot's new state (without the change's own fields); a deleted one leaves the board.
 * The client is a stand-in that hands events straight to the subscriber.
 */
import type { MatchcastClient } from '../../src/client';
import { createScoreboard } from '../../src/scoreboard';
import type { DeliveredMessage, MatchSnapshot } from '../../src/wire';

const SNAPSHOT: MatchSnapshot = {
  match_id: 'm1', status: 'scheduled', minute: 0, score: { home: 0, away: 0 },
  home_team: { id: 'ars', name: 'Arsenal' }, away_team: { id: 'che', name: 'Chelsea' },
  league: { id: 'epl', name: 'Premier League' }, kickoff_at: '2026-11-23T15:00:00.000Z',
};

function standIn() {
  let handler: ((event: DeliveredMessage) => void) | undefined;
  const client = {
    addResetHandler: () => () => undefined,
    seed: () => undefined,
    position: () => undefined,
    subscribe: (_channel: string, onEvent: (event: DeliveredMessage) => void) => {
      handler = onEvent;
      return () => undefined;
    },
  } as unknown as MatchcastClient;
  let seq = 1;
  const send = (data: Record<string, unknown>) =>
    handler!({ type: 'schedule_update', match_id: 'm1', data, timestamp: '', channel: 'all', stream: 'match:m1', seq: ++seq, id: String(seq) });
  return { client, send };
}

describe('scoreboard: schedule_update', () => {
  it('applies a reschedule and a postponement as the new match state, and drops a deleted match', async () => {
    const { client, send } = standIn();
    const board = createScoreboard(client, { fetchSnapshot: async () => ({ matches: [{ match: SNAPSHOT, stream: 'match:m1', seq: 1 }] }) });
    await board.ready;
    const changes: string[] = [];
    board.on('change', ({ match, event }) => changes.push(`${event?.data.change}:${match.status}:${match.kickoff_at}`));

    const moved = '2026-11-24T19:45:00.000Z';
    send({ ...SNAPSHOT, kickoff_at: moved, change: 'rescheduled', old_kickoff_at: SNAPSHOT.kickoff_at, new_kickoff_at: moved, old_status: 'scheduled', new_status: 'scheduled' });
    expect(board.get('m1')).toEqual({ ...SNAPSHOT, kickoff_at: moved });

    send({ ...SNAPSHOT, kickoff_at: moved, status: 'postponed', change: 'postponed', old_kickoff_at: moved, new_kickoff_at: moved, old_status: 'scheduled', new_status: 'postponed' });
    expect(board.get('m1')).toEqual({ ...SNAPSHOT, kickoff_at: moved, status: 'postponed' });

    send({ ...SNAPSHOT, kickoff_at: moved, status: 'postponed', change: 'deleted', old_kickoff_at: moved, new_kickoff_at: null, old_status: 'postponed', new_status: null });
    expect(board.get('m1')).toBeUndefined();
    send({ ...SNAPSHOT, change: 'deleted', new_kickoff_at: null, new_status: null }); // again: nothing left to drop, no change
    expect(changes).toEqual([`rescheduled:scheduled:${moved}`, `postponed:postponed:${moved}`, `deleted:postponed:${moved}`]);
    board.close();
  });
});

describe('scoreboard: RESUME_TOO_OLD for many streams at once', () => {
  it('reloads the snapshot once for the resets that arrive together (and once more for those that came during that reload), not once per stream', async () => {
    const { MatchcastClient } = await import('../../src/client');
    const { FakeSocket } = await import('./fake-socket');
    FakeSocket.all = [];
    const client = new MatchcastClient({ url: 'ws://gw/ws', WebSocket: FakeSocket, pingIntervalMs: 0 });
    const ids = Array.from({ length: 50 }, (_, i) => `m${i}`);
    let loads = 0;
    let seq = 10;
    /** Each load waits until the test releases it. */
    const pending: (() => void)[] = [];
    const release = async () => {
      while (pending.length === 0) await new Promise((resolve) => setImmediate(resolve));
      pending.shift()!();
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    };
    const fetchSnapshot = async () => {
      loads++;
      await new Promise<void>((resolve) => pending.push(resolve));
      seq++;
      return { matches: ids.map((id) => ({ match: { ...SNAPSHOT, match_id: id }, stream: `match:${id}`, seq })) };
    };
    const board = createScoreboard(client, { fetchSnapshot });
    await release();
    await board.ready;
    client.connect();
    await new Promise((resolve) => setImmediate(resolve));
    const socket = FakeSocket.all.at(-1)!;
    socket.open();
    socket.message({ type: 'subscribed', channels: ['all'] });
    loads = 0;
    for (const id of ids.slice(0, 40)) socket.message({ type: 'error', code: 'RESUME_TOO_OLD', message: 'too old', stream: `match:${id}` });
    await new Promise((resolve) => setImmediate(resolve));
    // These come while the first reload runs.
    for (const id of ids.slice(40)) socket.message({ type: 'error', code: 'RESUME_TOO_OLD', message: 'too old', stream: `match:${id}` });
    await release();
    await release();
    expect(loads).toBe(2);
    expect(client.diagnostics.resets).toBe(50);
    // Streams reset by the second reload continue from its (newer) snapshot.
    expect(client.position('match:m0')).toBe(13);
    expect(client.position('match:m49')).toBe(13);
    board.close();
    client.close();
  });
});
