/**
 * End to end, with real processes: crawler → Postgres → (notify-listener → Redis →) gateway
 * → WebSocket clients, in both broker modes. Every committed event of a client's channels
 * must arrive exactly once, in per-stream seq order, with the protocol's fields.
 */
import { compare, maxOutboxId, outboxRows } from '../harness/verify';
import { GatewayProcess, Infra, ServiceProcess, freePort, waitFor } from '../harness/stack';
import { RecordingClient } from '@matchcast/chaos';

describe.each([
  ['redis', true],
  ['postgres', false],
])('delivery in %s mode', (mode, withRedis) => {
  const infra = new Infra();
  const processes: ServiceProcess[] = [];
  let gateway: GatewayProcess;

  beforeAll(async () => {
    await infra.start(withRedis);
    const env: Record<string, string> = { DATABASE_URL: infra.postgres.url };
    if (withRedis) {
      env.REDIS_URL = infra.redis.url;
      processes.push(new ServiceProcess('notify-listener', { ...env, LISTENER_PORT: String(await freePort()) }).start());
    }
    gateway = new GatewayProcess(await freePort(), await freePort(), env, `gateway-${mode}`);
    processes.push(gateway.start());
    await gateway.ready();
    await waitFor(`gateway in ${mode} mode`, async () => ((await gateway.mode()) === mode ? true : undefined));
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await infra.destroy();
  });

  it('delivers every committed event of each subscription exactly once and in order', async () => {
    const prefix = `${mode[0]}e2e`;
    const clients = [
      new RecordingClient(gateway.wsUrl, ['all']),
      new RecordingClient(gateway.wsUrl, ['live:all']),
      new RecordingClient(gateway.wsUrl, [`league:${prefix}-l1`, `match:${prefix}-m1`]),
    ];
    await Promise.all(clients.map((c) => c.connect()));
    const before = await maxOutboxId(infra.db);

    const crawler = new ServiceProcess('crawler', {
      DATABASE_URL: infra.postgres.url,
      CRAWLER_PORT: String(await freePort()),
      CRAWLER_SEED: '7',
      CRAWLER_ID_PREFIX: `${prefix}-`,
      CRAWLER_EVENTS_PER_SECOND: '200',
      CRAWLER_MATCH_MINUTE_MS: '20',
      CRAWLER_MAX_EVENTS: '300',
    }, `crawler-${mode}`).start();
    expect(await crawler.child!.exited).toBe(0);

    const rows = await outboxRows(infra.db, before);
    expect(rows.length).toBeGreaterThanOrEqual(300);
    const all = clients[0]!;
    await waitFor('the `all` client to receive every event', async () =>
      compare(rows, all.channels, all.messages).lost === 0 ? true : undefined,
    10_000).catch(() => undefined);

    for (const client of clients) {
      const report = compare(rows, client.channels, client.messages);
      expect(report.expected).toBeGreaterThan(0);
      expect(report).toEqual({ ...report, lost: 0, duplicated: 0, outOfOrder: 0 });
    }

    const goal = all.samples.get('match_event') as Record<string, any>;
    expect(goal).toMatchObject({ type: 'match_event', channel: 'all', data: { event: expect.any(Object) } });
    for (const field of ['type', 'match_id', 'data', 'timestamp', 'channel', 'stream', 'seq', 'id']) {
      expect(goal).toHaveProperty(field);
    }
    for (const client of clients) client.close();
  });
});
