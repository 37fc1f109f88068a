/**
 * Floods of well-formed forged messages on the Redis bus (what a leaked listener password
 * allows) against a real gateway fed the production way: Postgres triggers → NOTIFY →
 * notify-listener → Redis → gateway. The database work they cause stays bounded, and every
 * genuine event written meanwhile still reaches a client exactly once, in order.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { REDIS_EVENTS_CHANNEL, REDIS_HEARTBEAT_CHANNEL } from '@matchcast/protocol';
import { migrate } from '@matchcast/db';
import { EnvReader, createLogger } from '@matchcast/runtime';
import { PostgresServer, RedisServer, deliveringThrough, waitFor } from '@matchcast/testkit';
import { Redis } from 'ioredis';
import pg from 'pg';
import { loadConfig as loadListenerConfig } from '../../notify-listener/src/config';
import { startListener, type RunningListener } from '../../notify-listener/src/listener';
import { loadConfig } from '../src/config';
import { startGateway, type Gateway } from '../src/gateway';
import { TEST_SECRET, TestClient, metricValue } from './support';

/** Longer than the heartbeat flood below takes, so that all of it falls in one window after the first catch-up. */
const HEARTBEAT_TIMEOUT_MS = 2000;

describe('a gateway under a flood of forged bus messages', () => {
  let postgres: PostgresServer;
  let redis: RedisServer;
  let db: pg.Pool;
  let listener: RunningListener;
  let gateway: Gateway;
  let publisher: Redis;
  let ops: string;

  beforeAll(async () => {
    [postgres, redis] = await Promise.all([
      new PostgresServer({ settings: { shared_preload_libraries: 'pg_stat_statements' } }).start(),
      new RedisServer().start(),
    ]);
    db = new pg.Pool({ connectionString: postgres.url, max: 2 });
    await migrate(db);
    await db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await db.query(`INSERT INTO league VALUES ('l', 'League');
      INSERT INTO team (id, league_id, name) VALUES ('a', 'l', 'A'), ('b', 'l', 'B');
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('m1', 'l', 'a', 'b', now()), ('m2', 'l', 'b', 'a', now());
      INSERT INTO matchdata (match_id) VALUES ('m1')`);
    const env = { DATABASE_URL: postgres.url, REDIS_URL: redis.url, PORT: '0', OPS_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' };
    listener = await startListener(loadListenerConfig(new EnvReader({ ...env, LISTENER_PORT: '0', LISTENER_HOST: '127.0.0.1', LISTENER_HEARTBEAT_INTERVAL_MS: '100' })), createLogger('listener', 'silent'));
    gateway = await startGateway(
      loadConfig(new EnvReader({ ...env, AUTH_JWT_SECRET: TEST_SECRET, HEARTBEAT_TIMEOUT_MS: String(HEARTBEAT_TIMEOUT_MS), CANARY_INTERVAL_MS: '0' })),
      createLogger('gateway', 'silent'),
    );
    ops = `http://127.0.0.1:${gateway.opsPort}`;
    publisher = new Redis(redis.url);
    // Publishes before its SUBSCRIBE are never seen; a listener heartbeat received proves it.
    await deliveringThrough(ops, 'redis');
  });

  afterAll(async () => {
    publisher?.disconnect();
    await gateway?.close();
    await listener?.close();
    await db?.end();
    await Promise.all([postgres?.destroy(), redis?.destroy()]);
  });

  const metric = (name: string, label = '') => metricValue(ops, name, label);
  const catchUps = () => metric('matchcast_gateway_catch_up_duration_seconds_count');
  // Not the gateway's statement (pg_stat_statements would count both as one; see streamReads).
  const head = async (stream: string): Promise<number> =>
    Number((await db.query<{ last_seq: string }>('SELECT last_seq FROM stream_counter WHERE stream = $1', [stream])).rows[0]?.last_seq ?? 0);

  const subscribed = async (channels: string[]): Promise<TestClient> => {
    const client = new TestClient(`ws://127.0.0.1:${gateway.port}/ws`);
    await client.opened();
    client.send({ action: 'subscribe', channels });
    await client.next((m) => m.type === 'subscribed');
    return client;
  };

  /** `count` goals on m1, `pauseMs` apart. */
  const goals = async (count: number, pauseMs: number) => {
    for (let i = 0; i < count; i++) {
      await db.query(`INSERT INTO scoreboard (match_id, home_score) VALUES ('m1', 1)
                      ON CONFLICT (match_id) DO UPDATE SET home_score = scoreboard.home_score + 1`);
      await sleep(pauseMs);
    }
  };

  /**
   * An event of m2 that no path carries (its NOTIFY goes to a channel nobody LISTENs on), as
   * when a publish is dropped: only an outbox catch-up can deliver it.
   */
  const unheard = () =>
    db.query(`SELECT matchcast_append('match:m2', 'unheard', 'match_update', 'm2', matchcast_match_snapshot('m2'))`);

  /** A change of m1 whose event is too large for NOTIFY: the bus carries a reference and the gateway reads the row. */
  const largeEvent = (n: number) => db.query(`UPDATE matchdata SET attendance = $1, extra = jsonb_build_object('pad', repeat('x', 9000)) WHERE match_id = 'm1'`, [n]);

  /** Calls of the gateway's per-stream outbox reads and head reads (stream_counter), as Postgres counted them. */
  const streamReads = async (): Promise<number> => {
    const { rows } = await db.query<{ calls: string | null }>(
      `SELECT sum(calls) AS calls FROM pg_stat_statements
        WHERE query LIKE '%FROM outbox%WHERE stream = $1 AND seq > $2%'
           OR query LIKE 'SELECT last_seq::int AS last_seq FROM stream_counter WHERE stream = $1%'
           OR query LIKE 'SELECT stream, last_seq::int AS last_seq FROM stream_counter WHERE stream = ANY%'`,
    );
    return Number(rows[0]?.calls ?? 0);
  };

  /** Every seq of `stream` from `after` + 1 up to its head, each once and in order. */
  const deliveredInOrder = async (client: TestClient, stream: string, after: number) => {
    const last = await head(stream);
    await client.next((m) => m.stream === stream && m.seq === last, 15_000);
    const seqs = client.messages.filter((m) => m.stream === stream).map((m) => m.seq as number);
    expect(seqs).toEqual(Array.from({ length: last - after }, (_, i) => after + 1 + i));
  };

  it('takes a flood of heartbeats with alternating listener ids for a catch-up per heartbeat timeout, and loses nothing', async () => {
    const client = await subscribed(['match:m1', 'match:m2']);
    const [from, fromM2] = [await head('match:m1'), await head('match:m2')];
    const before = await catchUps();
    const switches = await metric('matchcast_gateway_broker_switches_total', 'to="postgres"');
    const writing = goals(20, 30);
    // 3,000 forged heartbeats in 15 bursts, each one a "new leader" for the one before it.
    const started = Date.now();
    for (let burst = 0; burst < 15; burst++) {
      const pipeline = publisher.pipeline();
      for (let i = 0; i < 200; i++) {
        pipeline.publish(REDIS_HEARTBEAT_CHANNEL, JSON.stringify({ listener_id: `forged-${i % 2}`, sent_at: Date.now(), published: 1, dropped: 0 }));
      }
      await pipeline.exec();
      // After the flood's first catch-up: only the news held back since can deliver it.
      if (burst === 7) await unheard();
      await sleep(40);
    }
    const floodMs = Date.now() - started;
    await writing;
    await deliveredInOrder(client, 'match:m1', from);
    await deliveredInOrder(client, 'match:m2', fromM2);
    await sleep(HEARTBEAT_TIMEOUT_MS + 200); // the last news held back asks for its catch-up
    const ran = (await catchUps()) - before;
    expect(ran).toBeLessThanOrEqual(Math.ceil(floodMs / HEARTBEAT_TIMEOUT_MS) + 2);
    expect(await metric('matchcast_gateway_broker_switches_total', 'to="postgres"')).toBe(switches);
    client.ws.close();
  });

  it('checks a flood of forged claims on made-up streams against their heads in a few batched reads, leaving the pool to clients', async () => {
    const client = await subscribed(['match:m1']);
    const from = await head('match:m1');
    const readsBefore = await streamReads();
    const beyondBefore = await metric('matchcast_gateway_seq_claims_beyond_head_total');
    // A client's REST requests meanwhile share the gateway's main pool with the sequencer's reads.
    let flooding = true;
    const requesting = (async () => {
      while (flooding) {
        expect((await fetch(`http://127.0.0.1:${gateway.port}/api/matches`)).status).toBe(200);
        await sleep(20);
      }
    })();
    const writing = (async () => {
      for (let i = 0; i < 10; i++) {
        await goals(1, 0);
        await largeEvent(i);
        await sleep(40);
      }
    })();
    // 5,000 forged references and 1,000 forged events ahead of their seq, on streams that do not exist.
    const forged = (i: number) =>
      i % 6 === 5
        ? { id: String(i + 1), stream: `match:x${i}`, seq: 7, type: 'match_update', match_id: `x${i}`, data: {}, timestamp: new Date().toISOString() }
        : { ref: true, id: String(i + 1), stream: `match:x${i}`, seq: 1 + (i % 9) };
    for (let burst = 0; burst < 10; burst++) {
      const pipeline = publisher.pipeline();
      for (let i = burst * 600; i < (burst + 1) * 600; i++) {
        pipeline.publish(REDIS_EVENTS_CHANNEL, JSON.stringify({ channel: 'scoreboard_change', payload: JSON.stringify(forged(i)) }));
      }
      await pipeline.exec();
      await sleep(40);
    }
    await writing;
    await waitFor('every forged claim cut to its head', async () => ((await metric('matchcast_gateway_seq_claims_beyond_head_total')) - beyondBefore >= 6000 ? true : undefined), 20_000);
    flooding = false;
    await requesting;
    // The genuine events, references included, arrived once and in order.
    await deliveredInOrder(client, 'match:m1', from);
    expect(client.messages.filter((m) => m.stream === 'match:m1' && m.data.update_type === 'matchdata')).toHaveLength(10);
    // Each claim read the outbox once and the head four times before: 30,000 queries on that pool.
    expect((await streamReads()) - readsBefore).toBeLessThan(200);
    client.ws.close();
  });

  it('finishes a catch-up while forged claims keep other fills busy, so the next one asked for is not held up', async () => {
    const client = await subscribed(['match:m2']);
    const fromM2 = await head('match:m2');
    await sleep(HEARTBEAT_TIMEOUT_MS); // the last test's news is out of the way
    const before = await catchUps();
    let flooding = true;
    const flood = (async () => {
      for (let burst = 0; flooding; burst++) {
        const pipeline = publisher.pipeline();
        for (let i = 0; i < 100; i++) {
          pipeline.publish(REDIS_EVENTS_CHANNEL, JSON.stringify({ channel: 'x', payload: JSON.stringify({ ref: true, id: '1', stream: `match:busy${burst}-${i}`, seq: 1 }) }));
        }
        await pipeline.exec();
        await sleep(40);
      }
    })();
    await sleep(200);
    // One forged leader: a catch-up now, and one a heartbeat timeout later for the genuine listener's return.
    await publisher.publish(REDIS_HEARTBEAT_CHANNEL, JSON.stringify({ listener_id: 'forged', sent_at: Date.now(), published: 1, dropped: 0 }));
    await waitFor('the first catch-up', async () => ((await catchUps()) > before ? true : undefined), HEARTBEAT_TIMEOUT_MS);
    await unheard();
    // The second catch-up (due about a heartbeat timeout after the first) delivers it while the flood goes on.
    await client.next((m) => m.stream === 'match:m2' && m.seq === fromM2 + 1, HEARTBEAT_TIMEOUT_MS * 2);
    flooding = false;
    await flood;
    client.ws.close();
  });
});
