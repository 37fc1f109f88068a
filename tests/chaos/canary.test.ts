/**
 * The delivery canary on the real system (processes from dist/, real Postgres and Redis): it
 * proves the path end to end, stays invisible to clients, shrugs off forged canary messages,
 * and goes stale when the listener's LISTEN connection silently stops delivering — while every
 * process still reports healthy — then recovers by itself.
 */
import { Redis } from 'ioredis';
import { REDIS_EVENTS_CHANNEL } from '@matchcast/protocol';
import { LocalCluster } from '../harness/scenarios/local-cluster';
import { waitFor } from '../harness/stack';
import { TestClient } from '../../services/gateway/test/support';

const GATEWAY_ID = 'canary-gw';
const STREAM = `canary:${GATEWAY_ID}`;

/** A sample's value from Prometheus text: the line of `name` carrying every one of `labels`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const pairs = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  const line = text
    .split('\n')
    .find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && pairs.every((pair) => l.includes(pair)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('chaos: delivery canary', () => {
  // The listener's own LISTEN check is slowed down: the test watches the window in which a
  // silently dead LISTEN connection is seen by nothing but the canary (by default the listener
  // notices within ~3.5 s, and the gateways fall back; the canary proves the window either way).
  const cluster = new LocalCluster({
    name: 'canary',
    gateways: 1,
    listeners: 1,
    eventsPerSecond: 5,
    gatewayEnv: { GATEWAY_ID, CANARY_INTERVAL_MS: '200', CANARY_TIMEOUT_MS: '1000' },
    listenerEnv: { LISTENER_HEALTH_CHECK_INTERVAL_MS: '60000' },
  });
  let redis: Redis;
  /** Subscribed to every public channel for the whole file: must never see a canary event. */
  let watcher: TestClient;

  const gatewayOps = () => `http://127.0.0.1:${cluster.gateways[0]!.opsPort}`;
  const metrics = async () => (await fetch(`${gatewayOps()}/metrics`)).text();
  const lastSuccess = async () => sample(await metrics(), 'matchcast_canary_last_success_timestamp_seconds') ?? 0;
  const failures = async (reason: string) => sample(await metrics(), 'matchcast_canary_failures_total', { reason }) ?? 0;
  const status = async (url: string) => (await fetch(url)).status;

  beforeAll(async () => {
    await cluster.start();
    redis = new Redis(cluster.infra.redis.url);
    watcher = new TestClient(cluster.gateways[0]!.wsUrl);
    await watcher.opened();
    watcher.send({ action: 'subscribe', channels: ['all', 'live:all'] });
    await watcher.next((m) => m.type === 'subscribed');
  }, 60_000);

  afterAll(async () => {
    watcher?.ws.close();
    redis?.disconnect();
    await cluster.destroy();
  }, 30_000);

  it('commits through the real path and times each probe back; the canary stream stays a few rows long', async () => {
    const start = Date.now() / 1000;
    await waitFor('a canary success', async () => ((await lastSuccess()) > start ? true : undefined), 20_000);
    // 15 probes and more (one every 200 ms after the last came back: ~4 s on a quiet machine,
    // longer on a loaded one), waited for rather than slept: the stream is trimmed to its last rows
    // on every write.
    const stream = async () =>
      (
        await cluster.infra.db.query<{ rows: number; head: number }>(
          `SELECT (SELECT count(*) FROM outbox WHERE stream = $1)::int AS rows,
                  (SELECT last_seq FROM stream_counter WHERE stream = $1)::int AS head`,
          [STREAM],
        )
      ).rows[0]!;
    await waitFor(
      '10 probes timed under 0.25 s and 15 canary commits',
      async () => {
        const text = await metrics();
        const timed = sample(text, 'matchcast_canary_latency_seconds_bucket', { le: '0.25' }) ?? 0;
        return timed >= 10 && (await stream()).head >= 15 ? true : undefined;
      },
      30_000,
    );
    const text = await metrics();
    expect(sample(text, 'matchcast_canary_latency_seconds_count')).toBeGreaterThanOrEqual(10);
    expect(sample(text, 'matchcast_canary_failures_total', { reason: 'write_failed' })).toBe(0);
    expect(sample(text, 'matchcast_canary_failures_total', { reason: 'timeout' })).toBe(0);
    expect((await stream()).rows).toBeLessThanOrEqual(10);
  }, 60_000);

  it('is internal: clients cannot subscribe to canary streams, and public channels never carry them', async () => {
    const client = new TestClient(cluster.gateways[0]!.wsUrl);
    await client.opened();
    client.send({ action: 'subscribe', channels: [STREAM] });
    client.send({ action: 'subscribe', channels: ['canary:other/live'] });
    client.send({ action: 'subscribe', channels: ['all'], resume: { [STREAM]: 1 } });
    client.send({ action: 'ping' });
    await client.next((m) => m.type === 'pong');
    const errors = client.messages.filter((m) => m.type === 'error');
    expect(errors.map((m) => m.code)).toEqual(['UNKNOWN_CHANNEL', 'UNKNOWN_CHANNEL', 'UNKNOWN_CHANNEL']);
    client.ws.close();
    // The watcher has been on `all` through dozens of canary commits, and gets real match events.
    await watcher.next((m) => typeof m.stream === 'string' && m.stream.startsWith('match:'), 20_000);
    expect(watcher.messages.some((m) => typeof m.stream === 'string' && m.stream.startsWith('canary:'))).toBe(false);
  }, 30_000);

  it('forged canary messages on the bus change nothing: no success, no gap fill, no delivery', async () => {
    const before = await metrics();
    const forged = (payload: unknown) => JSON.stringify({ channel: 'canary_change', payload: JSON.stringify(payload) });
    const event = { id: '1', stream: STREAM, type: 'canary', match_id: null, timestamp: new Date().toISOString() };
    await redis.publish(REDIS_EVENTS_CHANNEL, forged({ ...event, seq: 999_999_999, data: { token: 'guessed' } }));
    await redis.publish(REDIS_EVENTS_CHANNEL, forged({ ...event, seq: 5, data: { token: { $ne: null } } }));
    await redis.publish(REDIS_EVENTS_CHANNEL, forged({ ref: true, id: '1', stream: STREAM, seq: 999_999_999 }));
    await redis.publish(REDIS_EVENTS_CHANNEL, forged({ ...event, stream: 'canary:../../x', seq: 1, data: {} }));
    await redis.publish(REDIS_EVENTS_CHANNEL, forged({ ...event, stream: 'canary:other', seq: 0, data: {} }));
    // The two malformed ones (published last) are rejected by the bus decoder; the rest reach the
    // canary and are ignored. Counted, all five have been read: waited for, not assumed.
    const invalid = (text: string) => sample(text, 'matchcast_gateway_invalid_messages_total', { source: 'redis' }) ?? 0;
    await waitFor('the malformed forgeries counted', async () => (invalid(await metrics()) - invalid(before) >= 2 ? true : undefined), 20_000);
    const afterForgery = Date.now() / 1000;
    await waitFor('a canary success after the forgeries', async () => ((await lastSuccess()) > afterForgery ? true : undefined), 20_000);
    const after = await metrics();
    expect(invalid(after) - invalid(before)).toBe(2);
    expect(sample(after, 'matchcast_gateway_seq_claims_beyond_head_total')).toBe(sample(before, 'matchcast_gateway_seq_claims_beyond_head_total'));
    expect(sample(after, 'matchcast_canary_failures_total', { reason: 'timeout' })).toBe(0);
    expect(watcher.messages.some((m) => typeof m.stream === 'string' && m.stream.startsWith('canary:'))).toBe(false);
  }, 60_000);

  it('goes stale while the listener LISTEN backend is frozen and every process reports healthy, then recovers', async () => {
    const listener = cluster.listeners[0]!;
    const { rows } = await cluster.infra.db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [
      `matchcast-listener ${listener.name}`,
    ]);
    expect(rows).toHaveLength(1);
    const backend = rows[0]!.pid;
    const listenerBase = `http://127.0.0.1:${listener.env.LISTENER_PORT}`;
    const timeoutsBefore = await failures('timeout');
    // A frozen backend behaves like a half-open link: the socket stays up, nothing arrives.
    process.kill(backend, 'SIGSTOP');
    let frozenAt = 0;
    try {
      frozenAt = Date.now() / 1000;
      await waitFor('canary timeouts', async () => ((await failures('timeout')) >= timeoutsBefore + 2 ? true : undefined), 15_000);
      const last = await lastSuccess();
      expect(Date.now() / 1000 - last).toBeGreaterThan(1.5);
      expect(last).toBeLessThan(frozenAt + 1);
      // Every process says it is fine; the gateway still trusts the Redis path (heartbeats flow).
      // Polled, not asked once: on a loaded machine a Redis command past the listener's 500 ms
      // timeout has it reconnect, and its /readyz says 503 for that moment (seen), which is not
      // what this test is about.
      const healthy = async () => ({
        gateway: [await status(`${gatewayOps()}/healthz`), (await cluster.gateways[0]!.readyz()).status, await cluster.gateways[0]!.mode()],
        listener: [await status(`${listenerBase}/healthz`), await status(`${listenerBase}/readyz`)],
      });
      const expected = { gateway: [200, 200, 'redis'], listener: [200, 200] };
      let seen: Awaited<ReturnType<typeof healthy>> | undefined;
      await waitFor('every process healthy', async () => {
        seen = await healthy();
        return JSON.stringify(seen) === JSON.stringify(expected) ? true : undefined;
      }, 10_000).catch(() => undefined);
      expect(seen).toEqual(expected);
    } finally {
      process.kill(backend, 'SIGCONT');
    }
    const resumedAt = Date.now() / 1000;
    await waitFor('a canary success after the backend resumed', async () => ((await lastSuccess()) > resumedAt ? true : undefined), 20_000);
    await waitFor('the gateway on Redis', async () => ((await cluster.gateways[0]!.mode()) === 'redis' ? true : undefined), 10_000);
  }, 60_000);
});
