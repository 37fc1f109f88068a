/**
 * A client configured to send faster than the gateway's WS_MESSAGES_PER_SECOND (its
 * `framesPerSecond` above the server's rate): the subscribes past the rate are refused and
 * asked for again, but the ping after each resuming subscribe is answered all the same, so the
 * pong that ends each replay is the one the client waits for, and no error reaches the app.
 */
import { GatewayProcess, Infra, ServiceProcess, freePort, goal, recordingClient, seedMatches, waitFor, waitForState } from './support';

describe('MatchcastClient sending past the gateway rate', () => {
  const infra = new Infra();
  const processes: ServiceProcess[] = [];
  let gateway: GatewayProcess;

  beforeAll(async () => {
    await infra.start(false);
    gateway = new GatewayProcess(await freePort(), await freePort(), { DATABASE_URL: infra.postgres.url, WS_MESSAGES_PER_SECOND: '1' }, 'client-gateway-rate');
    processes.push(gateway.start());
    await gateway.ready();
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await infra.destroy();
  });

  it('gets every replay-end pong: no RATE_LIMITED reaches the app, every channel is subscribed and replayed, and no replay is left open', async () => {
    const matches = await seedMatches(infra.db, 'rl', 4);
    const { client, received, record } = recordingClient({ url: gateway.wsUrl, pingIntervalMs: 0, framesPerSecond: 100 });
    const errors: unknown[] = [];
    client.on('error', (error) => errors.push(error));
    client.on('event', record);
    client.subscribe(`match:${matches[0]}`, () => undefined);
    client.connect();
    await waitForState(client, 'live');
    // Channels added one by one, each from a known position (a snapshot's): a subscribe with
    // `resume` and the ping that marks its replay's end, two frames each, past the rate of 1.
    for (const match of matches.slice(1)) {
      await goal(infra.db, match);
      client.seed({ [`match:${match}`]: 0 });
      client.subscribe(`match:${match}`, () => undefined);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const { rows } = await infra.db.query<{ stream: string; seq: number }>(`SELECT stream, last_seq::int AS seq FROM stream_counter WHERE stream = ANY($1)`, [matches.slice(1).map((match) => `match:${match}`)]);
    const replayed = () => rows.every(({ stream, seq }) => received.get(stream)?.at(-1) === seq);
    await waitFor('every replay', async () => (replayed() ? true : undefined), 15_000);
    // The last replay's end is known: event times count for `since` again.
    await waitFor('the last replay-end pong', async () => (!(client as unknown as { positions: { isHolding: boolean } }).positions.isHolding ? true : undefined), 5000);
    expect(errors).toEqual([]);
    client.close();
  }, 30_000);
});
