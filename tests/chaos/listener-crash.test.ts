/**
 * A notify-listener crash costs no gateway its readiness (issue 15 item 1). The listener runs
 * as in the chart's sidecar placements, under dist/supervise.js; its process is SIGKILLed (a
 * crash or an out-of-memory kill) while the crawler writes. The gateway's /readyz answers 200
 * on every poll throughout, it keeps delivering through its own Postgres LISTEN while no
 * heartbeat comes, goes back to Redis once the supervisor has restarted the listener, and the
 * clients get every event exactly once, in order.
 */
import { readFileSync } from 'node:fs';
import { RecordingClient } from '@matchcast/chaos';
import { compare, maxOutboxId, outboxRows } from '../harness/verify';
import { GatewayProcess, Infra, ServiceProcess, freePort, waitFor } from '../harness/stack';

/** Pids of the listener processes the supervisor started, in order. */
function listenerPids(logFile: string): number[] {
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((line) => line.includes('"notify-listener process started"'))
    .map((line) => (JSON.parse(line) as { pid: number }).pid);
}

describe('chaos: the listener process dies inside its container', () => {
  const infra = new Infra();
  const processes: ServiceProcess[] = [];

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await infra.destroy();
  });

  it('the gateway stays ready (every /readyz 200), delivers through Postgres meanwhile, and nothing is lost or doubled', async () => {
    await infra.start(true);
    const env = { DATABASE_URL: infra.postgres.url, REDIS_URL: infra.redis.url };
    const listener = new ServiceProcess('notify-listener', { ...env, LISTENER_HOST: '127.0.0.1', LISTENER_PORT: String(await freePort()) }, 'listener-supervised', 'supervise.js').start();
    const gateway = new GatewayProcess(await freePort(), await freePort(), env, 'gateway-listener-crash');
    processes.push(listener, gateway.start());
    await gateway.ready();
    await waitFor('the gateway on Redis', async () => ((await gateway.mode()) === 'redis' ? true : undefined), 15_000);

    const clients = [new RecordingClient(gateway.wsUrl, ['all']), new RecordingClient(gateway.wsUrl, ['live:all'])];
    await Promise.all(clients.map((c) => c.connect()));
    const before = await maxOutboxId(infra.db);
    const crawler = new ServiceProcess('crawler', {
      DATABASE_URL: infra.postgres.url,
      CRAWLER_PORT: String(await freePort()),
      CRAWLER_ID_PREFIX: 'lcrash-',
      CRAWLER_EVENTS_PER_SECOND: '80',
      CRAWLER_MATCH_MINUTE_MS: '20',
      CRAWLER_MAX_EVENTS: '600',
    }, 'crawler-listener-crash').start();
    processes.push(crawler);

    // Readiness as the kubelet sees it, every 50 ms, from before the crash until after the recovery.
    const readiness: number[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        readiness.push((await gateway.readyz().catch(() => ({ status: 0 }))).status);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    await new Promise((r) => setTimeout(r, 1000));
    const [first] = listenerPids(listener.logFile);
    process.kill(first!, 'SIGKILL');
    const modes: string[] = [];
    await waitFor('the gateway delivering through Postgres', async () => {
      const mode = await gateway.mode();
      if (mode) modes.push(mode);
      return mode === 'postgres' ? true : undefined;
    }, 10_000, 20);
    await waitFor('the listener restarted inside its container', async () => (listenerPids(listener.logFile).length === 2 ? true : undefined), 10_000);
    await waitFor('the gateway back on Redis', async () => ((await gateway.mode()) === 'redis' ? true : undefined), 20_000);
    expect(await crawler.child!.exited).toBe(0);
    polling = false;
    await poller;

    expect(listener.child!.process.exitCode).toBeNull(); // the "container" never went away
    expect(readiness.length).toBeGreaterThan(40);
    expect(readiness.filter((status) => status !== 200)).toEqual([]);
    const rows = await outboxRows(infra.db, before);
    expect(rows.length).toBeGreaterThanOrEqual(600);
    await waitFor('every client to catch up', async () =>
      clients.every((c) => compare(rows, c.channels, c.messages).lost === 0) ? true : undefined,
    10_000).catch(() => undefined);
    for (const client of clients) {
      expect(client.connects).toBe(1); // never disconnected
      const report = compare(rows, client.channels, client.messages);
      expect(report).toEqual({ ...report, lost: 0, duplicated: 0, outOfOrder: 0 });
      client.close();
    }
    console.log(`listener crash: ${readiness.length} readiness polls, all 200; ${rows.length} events, 0 lost, 0 doubled`);
  }, 120_000);
});
