/**
 * Graceful drain: a gateway given SIGTERM fails readiness, waits, then closes its clients
 * with 1012; they reconnect to a second gateway with resume and lose nothing.
 */
import { compare, maxOutboxId, outboxRows } from '../harness/verify';
import { GatewayProcess, Infra, ServiceProcess, freePort, waitFor } from '../harness/stack';
import { RecordingClient } from '@matchcast/chaos';

describe('graceful drain', () => {
  const infra = new Infra();
  const processes: ServiceProcess[] = [];

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await infra.destroy();
  });

  it('moves every client to another gateway with no loss', async () => {
    await infra.start(true);
    const env = { DATABASE_URL: infra.postgres.url, REDIS_URL: infra.redis.url };
    processes.push(new ServiceProcess('notify-listener', { ...env, LISTENER_PORT: String(await freePort()) }).start());
    const first = new GatewayProcess(await freePort(), await freePort(), { ...env, DRAIN_DELAY_MS: '500', DRAIN_BATCH_SIZE: '5' }, 'gateway-draining');
    const second = new GatewayProcess(await freePort(), await freePort(), env, 'gateway-second');
    processes.push(first.start(), second.start());
    await Promise.all([first.ready(), second.ready()]);

    const clients = Array.from({ length: 20 }, (_, i) =>
      new RecordingClient(first.wsUrl, i % 2 ? ['all'] : ['live:all']),
    );
    await Promise.all(clients.map((c) => c.connect()));
    const before = await maxOutboxId(infra.db);
    const crawler = new ServiceProcess('crawler', {
      DATABASE_URL: infra.postgres.url,
      CRAWLER_PORT: String(await freePort()),
      CRAWLER_ID_PREFIX: 'drain-',
      CRAWLER_EVENTS_PER_SECOND: '100',
      CRAWLER_MATCH_MINUTE_MS: '20',
      CRAWLER_MAX_EVENTS: '300',
    }, 'crawler-drain').start();

    await new Promise((r) => setTimeout(r, 800));
    for (const client of clients) client.retarget(second.wsUrl);
    const stopped = first.stop('SIGTERM');
    await waitFor('readiness to fail while draining', async () => {
      const res = await first.readyz().catch(() => undefined);
      return res === undefined || res.status === 503 ? true : undefined;
    }, 5000);
    await stopped;
    expect(await first.child!.exited).toBe(0);
    expect(await crawler.child!.exited).toBe(0);

    const rows = await outboxRows(infra.db, before);
    await waitFor('every client to catch up', async () =>
      clients.every((c) => compare(rows, c.channels, c.messages).lost === 0) ? true : undefined,
    10_000).catch(() => undefined);
    for (const client of clients) {
      expect(client.closeCodes).toContain(1012);
      expect(client.connects).toBe(2);
      const report = compare(rows, client.channels, client.messages);
      expect(report).toEqual({ ...report, lost: 0, duplicated: 0, outOfOrder: 0 });
    }
    for (const client of clients) client.close();
  });
});
