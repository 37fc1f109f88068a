/**
 * BUS_SIGNING_KEYS on a real listener and gateway (Postgres triggers → NOTIFY → notify-listener
 * → Redis → gateway): what anyone else publishes on that Redis — unsigned, signed with another
 * key, moved to another channel, or a genuine heartbeat sent again — is counted and dropped, so
 * a forged event displaces no genuine one and forged heartbeats cannot hold a gateway on a dead
 * path; a key is rotated without a gap.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { REDIS_EVENTS_CHANNEL, REDIS_HEARTBEAT_CHANNEL } from '@matchcast/protocol';
import { migrate } from '@matchcast/db';
import { BusSignature, ConfigError, EnvReader, createLogger } from '@matchcast/runtime';
import { PostgresServer, RedisServer, deliveringThrough, waitFor } from '@matchcast/testkit';
import { Redis } from 'ioredis';
import pg from 'pg';
import { loadConfig as loadListenerConfig } from '../../notify-listener/src/config';
import { startListener, type RunningListener } from '../../notify-listener/src/listener';
import { loadConfig } from '../src/config';
import { startGateway, type Gateway } from '../src/gateway';
import { TEST_SECRET, TestClient, metricValue } from './support';

const KEY = 'bus-signing-key-one-0123456789abcdef';
const NEW_KEY = 'bus-signing-key-two-0123456789abcdef';
const HEARTBEAT_TIMEOUT_MS = 1000;

describe('signed bus messages', () => {
  let postgres: PostgresServer;
  let redis: RedisServer;
  let db: pg.Pool;
  let listener: RunningListener | undefined;
  let gateway: Gateway;
  let publisher: Redis;
  let ops: string;
  const env = () => ({ DATABASE_URL: postgres.url, REDIS_URL: redis.url, PORT: '0', OPS_PORT: '0', LISTENER_PORT: '0', HOST: '127.0.0.1', LISTENER_HOST: '127.0.0.1' });

  const startSignedListener = async (keys: string) => {
    listener = await startListener(
      loadListenerConfig(new EnvReader({ ...env(), LISTENER_HEARTBEAT_INTERVAL_MS: '100', BUS_SIGNING_KEYS: keys })),
      createLogger('listener', 'silent'),
    );
  };
  const metric = (name: string, label = '') => metricValue(ops, name, label);
  /** Subscribed and taking heartbeats: what is published from now on is seen (the mode gauge says redis before that). */
  const onRedis = () => deliveringThrough(ops, 'redis');
  const goal = (home: number) =>
    db.query(`INSERT INTO scoreboard (match_id, home_score) VALUES ('m1', $1) ON CONFLICT (match_id) DO UPDATE SET home_score = EXCLUDED.home_score`, [home]);
  const head = async () => Number((await db.query<{ last_seq: string }>(`SELECT last_seq FROM stream_counter WHERE stream = 'match:m1'`)).rows[0]?.last_seq ?? 0);

  /** What a genuine envelope of m1's next event looks like, with a score nobody wrote. */
  const forgedEvent = (seq: number) =>
    JSON.stringify({
      channel: 'scoreboard_change',
      payload: JSON.stringify({
        id: '999999', stream: 'match:m1', seq, type: 'match_update', match_id: 'm1', timestamp: new Date().toISOString(),
        data: { score: { home: 99, away: 0 } },
      }),
    });

  beforeAll(async () => {
    [postgres, redis] = await Promise.all([new PostgresServer().start(), new RedisServer().start()]);
    db = new pg.Pool({ connectionString: postgres.url, max: 2 });
    await migrate(db);
    await db.query(`INSERT INTO league VALUES ('l', 'League');
      INSERT INTO team (id, league_id, name) VALUES ('a', 'l', 'A'), ('b', 'l', 'B');
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('m1', 'l', 'a', 'b', now())`);
    await startSignedListener(KEY);
    gateway = await startGateway(
      loadConfig(new EnvReader({
        ...env(), AUTH_JWT_SECRET: TEST_SECRET, CANARY_INTERVAL_MS: '0',
        HEARTBEAT_TIMEOUT_MS: String(HEARTBEAT_TIMEOUT_MS), REDIS_PROBE_INTERVAL_MS: '200',
        // Rotation, first step: the new key is accepted before any listener signs with it.
        BUS_SIGNING_KEYS: `${KEY},${NEW_KEY}`,
      })),
      createLogger('gateway', 'silent'),
    );
    ops = `http://127.0.0.1:${gateway.opsPort}`;
    publisher = new Redis(redis.url);
    await onRedis();
  }, 60_000);

  afterAll(async () => {
    publisher?.disconnect();
    await gateway?.close();
    await listener?.close();
    await db?.end();
    await Promise.all([postgres?.destroy(), redis?.destroy()]);
  });

  it('delivers signed events, and drops forged ones at the next seq: unsigned, another key, another channel', async () => {
    const client = new TestClient(`ws://127.0.0.1:${gateway.port}/ws`);
    await client.opened();
    client.send({ action: 'subscribe', channels: ['match:m1'] });
    await client.next((m) => m.type === 'subscribed');
    await goal(1);
    await client.next((m) => m.type === 'match_update' && m.data.score?.home === 1);

    const next = (await head()) + 1;
    const stranger = BusSignature.fromEnv(new EnvReader({ BUS_SIGNING_KEYS: 'somebody-elses-key-0123456789abcdefgh' }))!;
    const genuine = BusSignature.fromEnv(new EnvReader({ BUS_SIGNING_KEYS: KEY }))!;
    const before = await metric('matchcast_gateway_invalid_messages_total', 'source="redis"');
    await publisher.publish(REDIS_EVENTS_CHANNEL, forgedEvent(next));
    await publisher.publish(REDIS_EVENTS_CHANNEL, stranger.sign(REDIS_EVENTS_CHANNEL, forgedEvent(next)));
    // A genuinely signed message, moved to the events channel from another one.
    await publisher.publish(REDIS_EVENTS_CHANNEL, genuine.sign(REDIS_HEARTBEAT_CHANNEL, forgedEvent(next)));
    await publisher.publish(REDIS_EVENTS_CHANNEL, `mc1.${'A'.repeat(43)}x${forgedEvent(next)}`);
    await waitFor('the forgeries counted', async () => ((await metric('matchcast_gateway_invalid_messages_total', 'source="redis"')) === before + 4 ? true : undefined));

    await goal(2);
    await client.next((m) => m.type === 'match_update' && m.seq === next);
    const updates = client.messages.filter((m) => m.type === 'match_update');
    expect(updates.map((m) => m.data.score.home)).toEqual([1, 2]);
    expect(updates.map((m) => m.seq)).toEqual([next - 1, next]);
    client.ws.close();
  });

  it('falls back to Postgres when the listeners die, whatever heartbeats are forged or sent again', async () => {
    // Record the genuine (signed) heartbeats of two listeners, as a leader change leaves them.
    const recorder = new Redis(redis.url);
    const recorded = new Map<string, string[]>();
    const idOf = (signed: string) => (JSON.parse(signed.slice(signed.indexOf('.', 4) + 1)) as { listener_id: string }).listener_id;
    recorder.on('message', (_channel: string, message: string) => recorded.set(idOf(message), [...(recorded.get(idOf(message)) ?? []), message]));
    await recorder.subscribe(REDIS_HEARTBEAT_CHANNEL);
    const standby = await startListener(
      loadListenerConfig(new EnvReader({ ...env(), LISTENER_HEARTBEAT_INTERVAL_MS: '100', BUS_SIGNING_KEYS: KEY, LISTENER_ID: 'standby' })),
      createLogger('listener', 'silent'),
    );
    await waitFor('the leader\'s heartbeats recorded', async () => (recorded.size === 1 && [...recorded.values()][0]!.length >= 3 ? true : undefined));
    await listener!.close(); // the standby takes over
    listener = undefined;
    await waitFor('the new leader\'s heartbeats recorded', async () => ((recorded.get('standby')?.length ?? 0) >= 3 ? true : undefined), 10_000);
    recorder.disconnect();
    await onRedis();

    const stranger = BusSignature.fromEnv(new EnvReader({ BUS_SIGNING_KEYS: 'somebody-elses-key-0123456789abcdefgh' }))!;
    const before = await metric('matchcast_gateway_invalid_messages_total', 'source="heartbeat"');
    await standby.close();
    const [first, second] = [...recorded.values()] as [string[], string[]];
    let turn = 0;
    const forging = setInterval(() => {
      const beat = JSON.stringify({ listener_id: 'forger', sent_at: Date.now(), published: 1, dropped: 0 });
      void publisher.publish(REDIS_HEARTBEAT_CHANNEL, beat);
      void publisher.publish(REDIS_HEARTBEAT_CHANNEL, stranger.sign(REDIS_HEARTBEAT_CHANNEL, beat));
      // The two listeners' genuine heartbeats in turn, each newer than the other's.
      const i = turn++;
      void publisher.publish(REDIS_HEARTBEAT_CHANNEL, first[i % first.length]!);
      void publisher.publish(REDIS_HEARTBEAT_CHANNEL, second[i % second.length]!);
    }, 100);
    try {
      await waitFor('the fallback', async () => ((await metric('matchcast_gateway_broker_mode', 'mode="postgres"')) === 1 ? true : undefined), 10_000);
      expect(await metric('matchcast_gateway_invalid_messages_total', 'source="heartbeat"')).toBeGreaterThan(before + 10);
    } finally {
      clearInterval(forging);
    }
  });

  it('takes a listener that signs with the new key (rotation, second step) and goes back to Redis', async () => {
    await startSignedListener(`${NEW_KEY},${KEY}`);
    await onRedis();
    const client = new TestClient(`ws://127.0.0.1:${gateway.port}/ws`);
    await client.opened();
    client.send({ action: 'subscribe', channels: ['match:m1'] });
    await client.next((m) => m.type === 'subscribed');
    const delivered = await metric('matchcast_gateway_invalid_messages_total', 'source="redis"');
    await goal(3);
    await client.next((m) => m.type === 'match_update' && m.data.score?.home === 3);
    await sleep(200);
    expect(await metric('matchcast_gateway_invalid_messages_total', 'source="redis"')).toBe(delivered);
    expect(await metric('matchcast_gateway_broker_mode', 'mode="redis"')).toBe(1);
    client.ws.close();
  });

  it('refuses keys shorter than 32 bytes at start-up, naming the variable', () => {
    expect(() => loadConfig(new EnvReader({ DATABASE_URL: 'postgres://x/y', BUS_SIGNING_KEYS: `${KEY},short` }))).toThrow(ConfigError);
    expect(() => loadListenerConfig(new EnvReader({ DATABASE_URL: 'postgres://x/y', REDIS_URL: 'redis://x', BUS_SIGNING_KEYS: 'short' }))).toThrow(/BUS_SIGNING_KEYS/);
  });
});
