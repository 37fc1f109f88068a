/**
 * `make demo`: the whole system on one machine. Uses DATABASE_URL if set, else an embedded
 * Postgres (data in .demo-data/); REDIS_URL if set, else redis-server from PATH on a free
 * port, else Postgres LISTEN mode. Runs migrations, the services (gateway, API with the
 * development sign-in, notifier, notify-listener, crawler's simulator) and an edge proxy that
 * routes like the production Ingress, so the page, the REST API and the sockets share one
 * origin. Ctrl-C stops everything and leaves no process behind.
 *
 * DEMO_FEED=http (`make demo FEED=http`): instead of the simulator, the crawler polls a local
 * provider (services/crawler/src/feed-server: football-data v4 format, matches progressing in
 * time) through its HTTP source, as it would a real one. The default stays the simulator.
 *
 * Ports, from PORT (default 8080): the edge PORT, notify-listener PORT+1, crawler PORT+2,
 * gateway PORT+3 (ops PORT+4), API PORT+10 (ops PORT+11), notifier ops PORT+12, the local
 * provider of DEMO_FEED=http PORT+13. DEMO_DATA_DIR (default
 * .demo-data) holds the embedded Postgres and random secrets made once per data dir: the token
 * secret (dev-auth-secret, which `make token` reads) and the SSE position key.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { migrate } from '@matchcast/db';
import { PostgresServer, RedisServer } from '@matchcast/testkit';
import pg from 'pg';
import { startEdgeProxy } from './edge-proxy';

const ROOT = resolve(__dirname, '..', '..');
const COLORS: Record<string, string> = { gateway: '36', 'notify-listener': '35', crawler: '33', api: '34', notifier: '31', demo: '32' };

function say(service: string, line: string): void {
  process.stdout.write(`\x1b[${COLORS[service] ?? '0'}m${service.padEnd(15)}\x1b[0m ${line}\n`);
}

/** Pretty-prints a service's JSON log lines. */
function pipeLogs(service: string, child: ChildProcess): void {
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => {
      try {
        const { level, msg, ...rest } = JSON.parse(line) as Record<string, unknown>;
        delete rest.time;
        delete rest.service;
        delete rest.pid;
        delete rest.hostname;
        const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
        say(service, `${String(level).padEnd(5)} ${String(msg)}${extra}`);
      } catch {
        say(service, line);
      }
    });
  }
}

/** A random secret kept in the data dir (made the first time), so that it outlives a restart of the demo. */
function demoSecret(dataDir: string, name: string): string {
  const file = join(dataDir, name);
  if (existsSync(file)) {
    const secret = readFileSync(file, 'utf8').trim();
    if (secret) return secret;
  }
  const secret = randomBytes(48).toString('base64url');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** The demo's processes and resources: started in order, stopped in reverse, once. */
class Supervisor {
  private readonly children: ChildProcess[] = [];
  private readonly cleanups: (() => Promise<void>)[] = [];
  private stopping = false;

  /** Runs a built service (services/<name>/dist/<entry>); its exit stops the demo. */
  start(service: string, env: NodeJS.ProcessEnv, entry = 'main.js'): void {
    const child = spawn(process.execPath, [join(ROOT, 'services', service, 'dist', entry)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    pipeLogs(service, child);
    child.once('exit', (code, signal) => {
      if (this.stopping) return;
      say('demo', `${service} exited (${signal ?? code}); stopping the demo`);
      void this.stop(1);
    });
    this.children.push(child);
  }

  onStop(cleanup: () => Promise<void>): void {
    this.cleanups.push(cleanup);
  }

  async stop(code: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    say('demo', 'stopping…');
    for (const child of this.children) child.kill('SIGTERM');
    await Promise.all(this.children.map((child) => new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)))));
    for (const cleanup of this.cleanups.reverse()) await cleanup().catch(() => undefined);
    say('demo', 'stopped');
    process.exit(code);
  }
}

async function main(demo: Supervisor): Promise<void> {
  const base = Number(process.env.PORT ?? 8080);
  if (!Number.isInteger(base) || base < 1 || base > 65_523) throw new Error(`PORT must be a port number (1..65523), not "${process.env.PORT}"`);
  const ports = { edge: base, listener: base + 1, crawler: base + 2, gateway: base + 3, gatewayOps: base + 4, api: base + 10, apiOps: base + 11, notifierOps: base + 12, feed: base + 13 };
  const feed = process.env.DEMO_FEED ?? 'simulator';
  if (feed !== 'simulator' && feed !== 'http') throw new Error(`DEMO_FEED must be simulator or http, not "${feed}"`);
  // The edge first: a port already taken stops the demo before anything else starts.
  const edge = await startEdgeProxy(ports.edge, {
    gateway: { host: '127.0.0.1', port: ports.gateway },
    api: { host: '127.0.0.1', port: ports.api },
  });
  demo.onStop(() => edge.close());

  const dataDir = resolve(ROOT, process.env.DEMO_DATA_DIR ?? '.demo-data');
  let databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    const postgres = await new PostgresServer({ dataDir: join(dataDir, 'pg') }).start();
    demo.onStop(() => postgres.stop());
    databaseUrl = postgres.url;
    say('demo', `embedded Postgres on port ${postgres.port} (data in ${join(dataDir, 'pg')})`);
  }
  let redisUrl = process.env.REDIS_URL;
  if (!redisUrl && hasRedisServer()) {
    const redis = await new RedisServer().start();
    demo.onStop(() => redis.destroy());
    redisUrl = redis.url;
    say('demo', `redis-server on port ${redis.port}`);
  } else if (!redisUrl) {
    say('demo', 'no REDIS_URL and no redis-server on PATH: gateway runs in Postgres LISTEN mode');
  }

  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const applied = await migrate(client);
  await client.end();
  say('demo', `migrations: ${applied.length ? applied.join(', ') : 'up to date'}`);

  const env = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
    DRAIN_DELAY_MS: process.env.DRAIN_DELAY_MS ?? '0',
  };
  // Behind the edge (only it listens beyond localhost): the client address is the one it forwards.
  // AUTH_JWT_SECRET: the gateway and the API verify (and the dev sign-in mints) tokens with it;
  // `make token` reads it from the data dir.
  const behindEdge = { ...env, AUTH_JWT_SECRET: demoSecret(dataDir, 'dev-auth-secret'), TRUSTED_PROXY_HOPS: '1', HOST: '127.0.0.1' };
  // The listener signs what it publishes on Redis, the gateway drops anything else, as in production.
  const busSigningKeys = randomBytes(48).toString('base64url');
  if (redisUrl) demo.start('notify-listener', { ...env, LISTENER_PORT: String(ports.listener), BUS_SIGNING_KEYS: busSigningKeys });
  // Browsers' SSE position tokens stay valid across a restart of the demo.
  demo.start('gateway', {
    ...behindEdge,
    PORT: String(ports.gateway),
    OPS_PORT: String(ports.gatewayOps),
    SSE_POSITION_KEY: demoSecret(dataDir, 'sse-position-key'),
    BUS_SIGNING_KEYS: busSigningKeys,
  });
  demo.start('api', { ...behindEdge, PORT: String(ports.api), OPS_PORT: String(ports.apiOps), DEV_SIGN_IN: 'true' });
  demo.start('notifier', { ...env, OPS_PORT: String(ports.notifierOps) });
  if (feed === 'http') {
    demo.start('crawler', { ...env, FEED_SERVER_PORT: String(ports.feed) }, 'feed-server/main.js');
    say('demo', `local provider (football-data v4 format) on http://127.0.0.1:${ports.feed}/v4/competitions/DEMO/matches`);
  }
  demo.start('crawler', { ...env, CRAWLER_PORT: String(ports.crawler), ...(feed === 'http' ? httpFeedEnv(ports.feed) : {}) });
  say('demo', `http://localhost:${ports.edge}/ — live scores; sign in as a demo user to follow teams and get notifications`);
  say('demo', `WebSocket ws://localhost:${ports.edge}/ws; \`make token USER=alice\` prints a token for the API — Ctrl-C to stop`);
}

/** The crawler's HTTP source, pointed at the local provider: polled every 2 s while a match is on. */
function httpFeedEnv(port: number): NodeJS.ProcessEnv {
  return {
    CRAWLER_SOURCE: 'http',
    CRAWLER_HTTP_PROVIDER: 'football-data',
    CRAWLER_HTTP_BASE_URL: `http://127.0.0.1:${port}`,
    CRAWLER_HTTP_COMPETITIONS: 'DEMO',
    CRAWLER_HTTP_MATCH_DETAILS: 'true',
    CRAWLER_HTTP_LIVE_INTERVAL_MS: '2000',
    CRAWLER_HTTP_IDLE_INTERVAL_MS: '10000',
    CRAWLER_HTTP_REQUESTS_PER_MINUTE: '300',
  };
}

const demo = new Supervisor();
process.on('SIGINT', () => void demo.stop(0));
process.on('SIGTERM', () => void demo.stop(0));
main(demo).catch(async (error: unknown) => {
  console.error('demo failed to start:', error);
  await demo.stop(1);
});
