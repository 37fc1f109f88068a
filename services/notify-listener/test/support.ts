import { Redis } from 'ioredis';
import pg from 'pg';
import { migrate } from '@matchcast/db';
import { REDIS_EVENTS_CHANNEL, REDIS_HEARTBEAT_CHANNEL, type ForwardedNotification, type Heartbeat } from '@matchcast/protocol';
import { createLogger, EnvReader, type Logger } from '@matchcast/runtime';
import { PostgresServer, RedisServer } from '@matchcast/testkit';
import { loadConfig, type Config } from '../src/config';

/** Test logs are silent unless LOG_LEVEL says otherwise (e.g. LOG_LEVEL=debug pnpm exec jest ...). */
export const testLogger = (): Logger => createLogger('notify-listener-test', process.env.LOG_LEVEL ?? 'silent');

/** The env a test listener runs with: fast reconnects, a free ops port, a given id. */
export function listenerEnv(pgServer: PostgresServer, redisServer: RedisServer, id: string, extra: Record<string, string> = {}) {
  return {
    DATABASE_URL: pgServer.url,
    REDIS_URL: redisServer.url,
    LISTENER_ID: id,
    LISTENER_HOST: '127.0.0.1',
    LISTENER_PORT: '0',
    LISTENER_RECONNECT_DELAY_MS: '200',
    LISTENER_HEALTH_CHECK_INTERVAL_MS: '500',
    LISTENER_HEALTH_CHECK_TIMEOUT_MS: '500',
    SHUTDOWN_TIMEOUT_MS: '5000',
    ...extra,
  };
}

export function testConfig(pgServer: PostgresServer, redisServer: RedisServer, id: string, extra: Record<string, string> = {}): Config {
  return loadConfig(new EnvReader(listenerEnv(pgServer, redisServer, id, extra)));
}

export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Migrations plus one league, two teams and match m1. */
export async function seed(url: string): Promise<void> {
  await withClient(url, async (client) => {
    await migrate(client);
    await client.query("INSERT INTO league VALUES ('epl', 'Premier League')");
    await client.query("INSERT INTO team (id, league_id, name) VALUES ('ars', 'epl', 'Arsenal'), ('che', 'epl', 'Chelsea')");
    await client.query(
      "INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('m1', 'epl', 'ars', 'che', now())",
    );
    await client.query("INSERT INTO scoreboard (match_id) VALUES ('m1')");
  });
}

/** Commits `count` score changes for m1 (one event each); returns the new home score. */
export async function scoreGoals(url: string, count: number): Promise<void> {
  await withClient(url, async (client) => {
    for (let i = 0; i < count; i += 1) {
      await client.query("UPDATE scoreboard SET home_score = home_score + 1, updated_at = now() WHERE match_id = 'm1'");
    }
  });
}

export interface Delivery {
  envelope: ForwardedNotification;
  event: { id: string; stream: string; seq: number; type: string };
  at: number;
}

export interface HeartbeatDelivery {
  heartbeat: Heartbeat;
  at: number;
}

/** Subscribes to both listener channels and keeps everything that arrives, in order. */
export class RedisCollector {
  readonly events: Delivery[] = [];
  readonly heartbeats: HeartbeatDelivery[] = [];
  readonly raw: string[] = [];
  private readonly redis: Redis;

  private constructor(url: string) {
    this.redis = new Redis(url, { retryStrategy: () => 50, maxRetriesPerRequest: null });
    this.redis.on('error', () => undefined);
    this.redis.on('message', (channel: string, message: string) => {
      const at = Date.now();
      if (channel === REDIS_EVENTS_CHANNEL) {
        this.raw.push(message);
        const envelope = JSON.parse(message) as ForwardedNotification;
        this.events.push({ envelope, event: JSON.parse(envelope.payload) as Delivery['event'], at });
      } else if (channel === REDIS_HEARTBEAT_CHANNEL) {
        this.heartbeats.push({ heartbeat: JSON.parse(message) as Heartbeat, at });
      }
    });
  }

  static async start(url: string): Promise<RedisCollector> {
    const collector = new RedisCollector(url);
    await collector.redis.subscribe(REDIS_EVENTS_CHANNEL, REDIS_HEARTBEAT_CHANNEL);
    return collector;
  }

  get ready(): boolean {
    return this.redis.status === 'ready';
  }

  /** Seqs of match:m1 events received, in arrival order. */
  seqs(): number[] {
    return this.events.filter((d) => d.event.stream === 'match:m1').map((d) => d.event.seq);
  }

  heartbeatsFrom(id: string, since = 0): HeartbeatDelivery[] {
    return this.heartbeats.filter((h) => h.heartbeat.listener_id === id && h.at >= since);
  }

  close(): void {
    this.redis.disconnect();
  }
}

export async function currentSeq(url: string): Promise<number> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ last_seq: string }>("SELECT last_seq FROM stream_counter WHERE stream = 'match:m1'");
    return Number(rows[0]?.last_seq ?? 0);
  });
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

export async function getJson(port: number, path: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, body: await response.text() };
}

export const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export { PostgresServer, RedisServer };
