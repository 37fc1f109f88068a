/**
 * Connection-aware rollouts (issue 15 item 3): a rolling restart of 3 gateways behind a Service,
 * with clients that reconnect (with resume) after every close and count their disconnects. The
 * chart's strategy (maxSurge 100%, minReadySeconds, preStop + DRAIN_DELAY_MS before clients are
 * moved) disconnects each client once; the old one (maxSurge 1) moves some clients several
 * times, because a drained pod's clients reconnect to old pods that are drained later. Every
 * client gets every event exactly once either way.
 */
import { RecordingClient } from '@matchcast/chaos';
import { compare, maxOutboxId, outboxRows } from '../harness/verify';
import { Infra, ServiceProcess, freePort, waitFor } from '../harness/stack';
import { LocalDeployment, type RolloutStrategy } from './support/local-deployment';

/** The chart's defaults (gateway.updateStrategy, minReadySeconds, preStopSleepSeconds), with the times scaled down. */
/** New pods take longer to start than a drained pod's clients take to move (preStop + drain, 5 s): with
 * maxSurge 1 those clients then land on old pods, deterministically, not only when this machine is slow. */
const STARTUP_MS = 6000;
const CHART: RolloutStrategy = { maxSurge: 3, minReadyMs: 2000, preStopMs: 3000, startupMs: STARTUP_MS };
const OLD_CHART: RolloutStrategy = { maxSurge: 1, minReadyMs: 0, preStopMs: 3000, startupMs: STARTUP_MS };
const CLIENTS = 24;

describe('chaos: rolling restart of 3 gateways', () => {
  const infra = new Infra();
  const processes: ServiceProcess[] = [];
  let deployment: LocalDeployment | undefined;

  afterAll(async () => {
    await deployment?.destroy();
    await Promise.all(processes.map((p) => p.stop()));
    await infra.destroy();
  });

  it('disconnects each client once with the chart\'s strategy (more than once with maxSurge 1), nothing lost or doubled', async () => {
    await infra.start(true);
    const env = { DATABASE_URL: infra.postgres.url, REDIS_URL: infra.redis.url };
    processes.push(new ServiceProcess('notify-listener', { ...env, LISTENER_HOST: '127.0.0.1', LISTENER_PORT: String(await freePort()) }, 'listener-rollout').start());
    // DRAIN_DELAY_MS as the chart's (scaled): clients are closed that long after SIGTERM, in batches.
    deployment = await new LocalDeployment(3, { ...env, DRAIN_DELAY_MS: '2000', DRAIN_BATCH_SIZE: '4', DRAIN_BATCH_INTERVAL_MS: '100' }, 'rollout').start();

    const clients = Array.from({ length: CLIENTS }, (_, i) => new RecordingClient(deployment!.wsUrl, i % 2 ? ['all'] : ['live:all']));
    await Promise.all(clients.map((c) => c.connect()));
    const before = await maxOutboxId(infra.db);
    const crawler = new ServiceProcess('crawler', {
      DATABASE_URL: infra.postgres.url,
      CRAWLER_PORT: String(await freePort()),
      CRAWLER_ID_PREFIX: 'rollout-',
      CRAWLER_EVENTS_PER_SECOND: '40',
      CRAWLER_MATCH_MINUTE_MS: '50',
    }, 'crawler-rollout').start();
    processes.push(crawler);

    const disconnects = async (strategy: RolloutStrategy) => {
      const connectsBefore = clients.map((c) => c.connects);
      await deployment!.rollingUpdate(strategy);
      await waitFor('every client connected again', async () => (clients.every((c) => c.connects > 0 && c.closeCodes.length < c.connects) ? true : undefined), 10_000);
      return clients.map((c, i) => c.connects - connectsBefore[i]!);
    };
    const withChart = await disconnects(CHART);
    const withOldChart = await disconnects(OLD_CHART);
    const histogram = (counts: number[]) => JSON.stringify(Object.fromEntries([...new Set(counts)].sort().map((n) => [n, counts.filter((c) => c === n).length])));
    console.log(`rolling restart of 3 gateways, ${CLIENTS} clients, disconnects per client {disconnects: clients}: chart strategy ${histogram(withChart)}, maxSurge 1 ${histogram(withOldChart)}`);
    expect(withChart).toEqual(clients.map(() => 1));
    expect(Math.max(...withOldChart)).toBeGreaterThan(1);

    await crawler.stop();
    const rows = await outboxRows(infra.db, before);
    expect(rows.length).toBeGreaterThan(100);
    await waitFor('every client to catch up', async () =>
      clients.every((c) => compare(rows, c.channels, c.messages).lost === 0) ? true : undefined,
    15_000).catch(() => undefined);
    for (const client of clients) {
      const report = compare(rows, client.channels, client.messages);
      expect(report).toEqual({ ...report, lost: 0, duplicated: 0, outOfOrder: 0 });
      expect(client.closeCodes.every((code) => code === 1012)).toBe(true);
      client.close();
    }
  }, 240_000);
});
