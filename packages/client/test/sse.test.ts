/**
 * The SSE transport against a real gateway (Redis mode, with the notify-listener): forced
 * (`transports: ['sse']`), and as the fallback when a proxy refuses WebSocket upgrades but
 * passes /sse. In both, while updates are committed, the gateway is SIGKILLed and restarted
 * on the same port, and what the client delivered per stream equals the outbox exactly.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import EventSource from 'eventsource';
import type { MatchcastClient } from '../src/client';
import type { MatchcastClientOptions } from '../src/types';
import { GatewayProcess, Infra, ServiceProcess, freePort, goal, maxOutboxId, outboxSeqs, recordingClient, seedMatches, sleep, waitFor, waitForState } from './support';

/** An HTTP proxy that answers every Upgrade with 400 and passes plain requests (and streams) through. */
function upgradeRefusingProxy(target: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const upstream = http.request({ host: '127.0.0.1', port: target, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
      answer.on('error', () => res.destroy());
      answer.on('aborted', () => res.destroy());
    });
    upstream.on('error', () => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  server.on('upgrade', (_req, socket) => socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'));
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('MatchcastClient over Server-Sent Events against a real gateway', () => {
  const infra = new Infra();
  const processes: ServiceProcess[] = [];
  let gateway: GatewayProcess;
  let proxy: http.Server;

  beforeAll(async () => {
    await infra.start(true);
    const env = { DATABASE_URL: infra.postgres.url, REDIS_URL: infra.redis.url };
    processes.push(new ServiceProcess('notify-listener', { ...env, LISTENER_PORT: String(await freePort()) }, 'client-sse-listener').start());
    // The key survives the restart, so the EventSource's own reconnect (Last-Event-ID) resumes.
    gateway = new GatewayProcess(await freePort(), await freePort(), { ...env, SSE_POSITION_KEY: 'client-sse-test-position-key-0123456789abcdef' }, 'client-sse-gateway');
    processes.push(gateway.start());
    await gateway.ready();
    await waitFor('gateway in redis mode', async () => ((await gateway.mode()) === 'redis' ? true : undefined));
    proxy = await upgradeRefusingProxy(gateway.port);
  });

  afterAll(async () => {
    proxy?.closeAllConnections();
    await new Promise((resolve) => proxy?.close(resolve));
    await Promise.all(processes.map((p) => p.stop()));
    await infra.destroy();
  });

  /** Writes while the gateway is SIGKILLed and restarted; returns what was committed and delivered. */
  async function acrossARestart(prefix: string, options: Omit<MatchcastClientOptions, 'WebSocket'>, during?: (client: MatchcastClient) => Promise<void>) {
    const matches = await seedMatches(infra.db, prefix, 3);
    const streams = matches.map((id) => `match:${id}`);
    const before = await maxOutboxId(infra.db);
    const { client, received, states, recordAfter } = recordingClient({ EventSource: EventSource as never, ...options });
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
    await gateway.kill();
    await sleep(200);
    gateway.start();
    await gateway.ready();
    await waitFor('client live again', async () => (client.diagnostics.connects >= 2 && client.state === 'live' ? true : undefined), 20_000);
    await during?.(client);
    await sleep(500);
    writing = false;
    await writer;

    const committed = await outboxSeqs(infra.db, before, streams);
    await waitFor(
      'the client to catch up with the outbox',
      async () => (streams.every((s) => (received.get(s)?.length ?? 0) >= committed.get(s)!.length) ? true : undefined),
      15_000,
    ).catch(() => undefined);
    client.close();
    return { client, streams, committed, received, states, errors, written };
  }

  it('forced to SSE: every committed event exactly once and in order across a SIGKILL and restart', async () => {
    const run = await acrossARestart('cs', { url: gateway.wsUrl, transports: ['sse'] });
    for (const stream of run.streams) expect({ stream, seqs: run.received.get(stream) ?? [] }).toEqual({ stream, seqs: run.committed.get(stream) });
    expect(run.written).toBeGreaterThan(50);
    expect(run.client.diagnostics).toMatchObject({ gaps: 0, resets: 0, transport: 'sse' });
    expect(run.states).toContain('reconnecting');
    expect(run.errors).toEqual([]);
  });

  it('falls back to SSE when a proxy refuses WebSocket upgrades, and delivers exactly once across a SIGKILL', async () => {
    const port = (proxy.address() as AddressInfo).port;
    const run = await acrossARestart('cf', { url: `ws://127.0.0.1:${port}/ws`, fallbackAfter: 2 });
    for (const stream of run.streams) expect({ stream, seqs: run.received.get(stream) ?? [] }).toEqual({ stream, seqs: run.committed.get(stream) });
    expect(run.written).toBeGreaterThan(50);
    expect(run.client.diagnostics).toMatchObject({ gaps: 0, resets: 0, transport: 'sse' });
    expect(run.errors).toEqual([]);
  });

  it('notices a frozen gateway by its silence (no keep-alive for two intervals), reconnects when it thaws, and delivers exactly once', async () => {
    const frozen = new GatewayProcess(await freePort(), await freePort(), { DATABASE_URL: infra.postgres.url, REDIS_URL: infra.redis.url, WS_PING_INTERVAL_MS: '1000' }, 'client-sse-frozen');
    processes.push(frozen.start());
    await frozen.ready();
    const [match] = await seedMatches(infra.db, 'cz', 1);
    const stream = `match:${match}`;
    const before = await maxOutboxId(infra.db);
    const { client, received, recordAfter } = recordingClient({ url: frozen.wsUrl, transports: ['sse'], EventSource: EventSource as never });
    client.subscribe(stream, recordAfter(before));
    client.connect();
    try {
      await waitForState(client, 'live');
      // Quiet, but alive: the keep-alive pings hold the stream past two intervals.
      await sleep(3500);
      expect(client.state).toBe('live');
      expect(client.diagnostics.connects).toBe(1);
      await goal(infra.db, match!);
      await waitFor('the first goal', async () => ((received.get(stream)?.length ?? 0) >= 1 ? true : undefined));
      frozen.child!.signal('SIGSTOP');
      try {
        const stoppedAt = Date.now();
        for (let i = 0; i < 3; i++) await goal(infra.db, match!);
        // The TCP connection stays open; only the silence tells. Without the check it stayed live for ever.
        await waitForState(client, 'reconnecting', 6000);
        expect(Date.now() - stoppedAt).toBeLessThan(4000);
      } finally {
        frozen.child!.signal('SIGCONT');
      }
      await waitForState(client, 'live', 20_000);
      const committed = (await outboxSeqs(infra.db, before, [stream])).get(stream);
      await waitFor('every goal', async () => ((received.get(stream)?.length ?? 0) >= committed!.length ? true : undefined));
      expect(received.get(stream)).toEqual(committed);
    } finally {
      client.close();
    }
  });

  it('subscribing and unsubscribing while on SSE reopens the stream with no event lost or doubled', async () => {
    const matches = await seedMatches(infra.db, 'cu', 2);
    const [one, two] = matches.map((id) => `match:${id}`) as [string, string];
    const { client, received, record, recordAfter } = recordingClient({ url: gateway.wsUrl, transports: ['sse'], EventSource: EventSource as never });
    const errors: unknown[] = [];
    client.on('error', (e) => errors.push(e));
    const before = await maxOutboxId(infra.db);
    // The seed's own events may still reach a client subscribed right after it (recordAfter).
    client.subscribe(one, recordAfter(before));
    client.connect();
    await waitForState(client, 'live');

    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        await goal(infra.db, matches[i % 2]!);
        await sleep(5);
      }
    })();
    await waitFor('events of the first match', async () => ((received.get(one)?.length ?? 0) >= 10 ? true : undefined));
    const connectsBefore = client.diagnostics.connects;
    const twoFrom = Number((await outboxSeqs(infra.db, before, [two])).get(two)!.at(-1) ?? 0);
    client.seed({ [two]: twoFrom }); // from "now" on for the added channel
    client.subscribe(two, record);
    await waitFor('events of the second match', async () => ((received.get(two)?.length ?? 0) >= 10 ? true : undefined));
    client.subscribe('league:cu-l', () => undefined);
    client.unsubscribe('league:cu-l');
    await sleep(300);
    writing = false;
    await writer;

    const committed = await outboxSeqs(infra.db, before, [one, two]);
    await waitFor(
      'the client to catch up',
      async () =>
        (received.get(one)?.length ?? 0) >= committed.get(one)!.length &&
        (received.get(two)?.length ?? 0) >= committed.get(two)!.filter((seq) => seq > twoFrom).length
          ? true
          : undefined,
      15_000,
    ).catch(() => undefined);
    expect(client.diagnostics.connects).toBeGreaterThanOrEqual(connectsBefore + 1);
    expect(received.get(one)).toEqual(committed.get(one));
    expect(received.get(two)).toEqual(committed.get(two)!.filter((seq) => seq > twoFrom));
    expect(client.diagnostics).toMatchObject({ gaps: 0, duplicates: expect.any(Number) });
    expect(errors).toEqual([]);
    client.close();
  });
});
