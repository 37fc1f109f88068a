/**
 * RESUME_TOO_OLD against a real gateway that keeps one event of history per stream: the
 * client was away for longer than that; the scoreboard reloads GET /api/matches through the
 * reset handler and delivery continues from the snapshot's seq — no gap, no duplicate.
 */
import { createScoreboard, httpSnapshot } from '../src/scoreboard';
import type { DeliveredMessage } from '../src/wire';
import { GatewayProcess, Infra, ServiceProcess, freePort, goal, recordingClient, seedMatches, sleep, waitFor, waitForState } from './support';

describe('MatchcastClient RESUME_TOO_OLD against a real gateway', () => {
  const infra = new Infra();
  const processes: ServiceProcess[] = [];
  let gateway: GatewayProcess;

  beforeAll(async () => {
    await infra.start(false);
    gateway = new GatewayProcess(
      await freePort(),
      await freePort(),
      { DATABASE_URL: infra.postgres.url, HISTORY_MAX_EVENTS_PER_STREAM: '1', OUTBOX_PRUNE_INTERVAL_MS: '0' },
      'client-gateway-reset',
    );
    processes.push(gateway.start());
    await gateway.ready();
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await infra.destroy();
  });

  it('reloads state through onReset and continues delivery from the snapshot', async () => {
    const [match] = await seedMatches(infra.db, 'cr', 1);
    const stream = `match:${match}`;
    const { client, received, record } = recordingClient({ url: gateway.wsUrl, pingIntervalMs: 1000 });
    client.on('event', record);
    const resets: string[] = [];
    client.on('reset', ({ stream: s }) => resets.push(s));
    const board = createScoreboard(client, { fetchSnapshot: httpSnapshot(`http://127.0.0.1:${gateway.port}`) });
    const changes: DeliveredMessage[] = [];
    board.on('change', ({ event }) => event && changes.push(event));
    await board.ready;
    client.connect();
    await waitForState(client, 'live');
    await goal(infra.db, match!);
    await waitFor('the first live event', async () => (received.get(stream)?.length === 1 ? true : undefined));

    await gateway.kill();
    for (let i = 0; i < 5; i++) await goal(infra.db, match!); // 5 events behind > 1 kept
    gateway.start();
    await gateway.ready();
    await waitFor('the reset', async () => (resets.length > 0 && client.state === 'live' ? true : undefined), 15_000);
    const snapshotSeq = client.position(stream)!;
    for (let i = 0; i < 3; i++) await goal(infra.db, match!);
    await sleep(200);

    const { rows } = await infra.db.query<{ seq: number; home_score: number }>(
      `SELECT (SELECT max(seq) FROM outbox WHERE stream = $1) AS seq, home_score FROM scoreboard WHERE match_id = $2`,
      [stream, match],
    );
    const head = Number(rows[0]!.seq);
    await waitFor('delivery after the reset', async () => (client.position(stream) === head ? true : undefined), 10_000);
    // One live event before the gateway died; after the reset, exactly the events committed
    // after the snapshot the reset handler loaded.
    expect(received.get(stream)).toHaveLength(4);
    expect(received.get(stream)!.slice(1)).toEqual([snapshotSeq + 1, snapshotSeq + 2, snapshotSeq + 3]);
    expect(head).toBe(snapshotSeq + 3);
    expect(resets).toEqual([stream]);
    expect(client.diagnostics).toMatchObject({ resets: 1, gaps: 0, duplicates: 0 });
    expect(board.get(match!)?.score).toEqual({ home: rows[0]!.home_score, away: 0 });
    board.close();
    client.close();
  });
});
