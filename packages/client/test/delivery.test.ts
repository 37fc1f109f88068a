/**
 * Against real gateways (Redis mode, with the notify-listener): while updates are being
 * committed, one gateway is SIGKILLed and the other drained (1012); the client moves
 * between them (its URL list) and what it delivered per stream equals the outbox exactly —
 * no loss, no duplicate, in order.
 */
import { GatewayProcess, Infra, ServiceProcess, freePort, goal, maxOutboxId, outboxSeqs, recordingClient, seedMatches, sleep, waitFor, waitForState } from './support';

describe('MatchcastClient against real gateways', () => {
  const infra = new Infra();
  const processes: ServiceProcess[] = [];
  let a: GatewayProcess;
  let b: GatewayProcess;

  beforeAll(async () => {
    await infra.start(true);
    const env = { DATABASE_URL: infra.postgres.url, REDIS_URL: infra.redis.url };
    processes.push(new ServiceProcess('notify-listener', { ...env, LISTENER_PORT: String(await freePort()) }, 'client-listener').start());
    a = new GatewayProcess(await freePort(), await freePort(), env, 'client-gateway-a');
    b = new GatewayProcess(await freePort(), await freePort(), env, 'client-gateway-b');
    processes.push(a.start(), b.start());
    await Promise.all([a.ready(), b.ready()]);
    await waitFor('both gateways in redis mode', async () => ((await a.mode()) === 'redis' && (await b.mode()) === 'redis' ? true : undefined));
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await infra.destroy();
  });

  it('delivers every committed event exactly once and in order across a SIGKILL and a drain', async () => {
    const matches = await seedMatches(infra.db, 'cd', 3);
    const streams = matches.map((id) => `match:${id}`);
    const before = await maxOutboxId(infra.db);
    const { client, received, states, recordAfter } = recordingClient({ url: [a.wsUrl, b.wsUrl], pingIntervalMs: 1000 });
    const errors: unknown[] = [];
    client.on('error', (e) => errors.push(e));
    client.subscribe('all', recordAfter(before));
    client.connect();
    await waitForState(client, 'live');

    let writing = true;
    let written = 0;
    const writer = (async () => {
      while (writing) {
        await goal(infra.db, matches[written % matches.length]!);
        written++;
        await sleep(5);
      }
    })();

    await waitFor('some events', async () => ([...received.values()].flat().length >= 30 ? true : undefined));
    await a.kill(); // SIGKILL: no close frame; the client moves on to b
    await waitFor('client live on b', async () => (client.diagnostics.connects >= 2 && client.state === 'live' ? true : undefined), 15_000);
    a.start();
    await a.ready();
    await sleep(300);
    await b.stop('SIGTERM'); // drain: close 1012, reconnect at once to a
    await waitFor('client live on a', async () => (client.diagnostics.connects >= 3 && client.state === 'live' ? true : undefined), 15_000);
    b.start();
    await sleep(500);
    writing = false;
    await writer;

    const committed = await outboxSeqs(infra.db, before, streams);
    await waitFor(
      'the client to catch up with the outbox',
      async () => (streams.every((s) => (received.get(s)?.length ?? 0) >= committed.get(s)!.length) ? true : undefined),
      15_000,
    ).catch(() => undefined);
    for (const stream of streams) {
      expect({ stream, seqs: received.get(stream) ?? [] }).toEqual({ stream, seqs: committed.get(stream) });
    }
    expect(written).toBeGreaterThan(50);
    expect(client.diagnostics).toMatchObject({ gaps: 0, resets: 0 });
    expect(states).toContain('reconnecting');
    expect(errors).toEqual([]);
    client.close();
    await b.ready();
  });
});
