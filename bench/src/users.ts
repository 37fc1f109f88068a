/**
 * `make bench-users`: the user half's figures (issue 10), against the real services on their
 * own Postgres and Redis on loopback:
 *
 *   1. notification fan-out — a goal is committed for a team with N followers; the time from
 *      that commit until every follower's `user:<id>` stream has delivered the `notification`
 *      to a socket (N = 10,000 and 100,000). The sockets are admin connections that each
 *      subscribe to many users' streams (an admin may read any user's stream), so 100,000
 *      followers need 100 sockets, not 100,000.
 *   2. the notification API — 1,000,000 notifications over 10,000 users; GET
 *      /api/notifications and GET /api/notifications/unread-count at a fixed arrival rate
 *      (open loop: latency counts from each request's scheduled time, so a slow answer
 *      delays nothing that follows and hides nothing).
 *
 * Options: --followers 10000,100000  --users 10000  --notifications 1000000  --rate 200
 *          --seconds 20  --no-fanout  --no-api  --out <dir>
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { mintToken } from '@matchcast/auth';
import WebSocket from 'ws';
import { cleanupAll, installExitHandlers } from './cleanup';
import { Infra, ROOT, Service, freePort, serviceScript } from './infra';
import { writeResults } from './report';
import { nowMs, sleep, summarize, type LatencySummary } from './stats';

const SECRET = 'bench-users-secret-of-at-least-32-bytes';
const CHANNELS_PER_SOCKET = 1000;
const TARGETS = { fanout10k: 3000, fanout100k: 30_000, list: 20, unread: 5 };

interface Options {
  followers: number[];
  users: number;
  notifications: number;
  rate: number;
  seconds: number;
  fanout: boolean;
  api: boolean;
  outDir: string;
}

function parseArgs(argv: string[]): Options {
  const options: Options = {
    followers: [10_000, 100_000],
    users: 10_000,
    notifications: 1_000_000,
    rate: 200,
    seconds: 20,
    fanout: true,
    api: true,
    outDir: join(ROOT, 'bench', 'results'),
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    const count = () => {
      const n = Number(value());
      if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${arg} needs a positive integer`);
      return n;
    };
    if (arg === '--followers') options.followers = value().split(',').map(Number);
    else if (arg === '--users') options.users = count();
    else if (arg === '--notifications') options.notifications = count();
    else if (arg === '--rate') options.rate = count();
    else if (arg === '--seconds') options.seconds = count();
    else if (arg === '--no-fanout') options.fanout = false;
    else if (arg === '--no-api') options.api = false;
    else if (arg === '--out') options.outDir = value();
    else throw new Error(`unknown option ${arg}`);
  }
  if (options.followers.some((n) => !Number.isSafeInteger(n) || n < 1)) throw new Error('--followers needs positive integers');
  return options;
}

const ms = (value: number | undefined) => (value === undefined ? '—' : value < 10 ? value.toFixed(2) : value.toFixed(0));

interface FanoutResult {
  followers: number;
  sockets: number;
  delivered: number;
  firstMs: number;
  p50Ms: number;
  p99Ms: number;
  allMs: number | undefined;
  /** commit → the notifier has committed every notification (the rest is the delivery path) */
  writtenMs: number | undefined;
  targetMs: number;
}

/** Admin sockets that each subscribe to CHANNELS_PER_SOCKET user streams; resolves when all are subscribed. */
async function openFollowerSockets(port: number, token: string, users: string[], onNotification: (user: string, at: number, data: Record<string, unknown>) => void): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  for (let i = 0; i < users.length; i += CHANNELS_PER_SOCKET) {
    const channels = users.slice(i, i + CHANNELS_PER_SOCKET).map((user) => `user:${user}`);
    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { authorization: `Bearer ${token}` } });
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.once('open', () => socket.send(JSON.stringify({ action: 'subscribe', channels })));
      socket.on('message', (raw) => {
        const at = nowMs();
        const message = JSON.parse(String(raw)) as { type: string; stream?: string; data?: Record<string, unknown>; code?: string };
        if (message.type === 'subscribed') resolve();
        else if (message.type === 'error') reject(new Error(`subscribe refused: ${message.code}`));
        else if (message.type === 'notification' && message.stream) onNotification(message.stream.slice(5), at, message.data ?? {});
      });
    });
  }
  return sockets;
}

async function measureFanout(infra: Infra, gatewayPort: number, followers: number, runId: number): Promise<FanoutResult> {
  const users = Array.from({ length: followers }, (_, i) => `f${runId}-${i}`);
  const team = `t${2 * runId - 1}`;
  const match = `m${runId}`;
  await infra.db.query(`INSERT INTO follow (user_id, kind, target_id) SELECT unnest($1::text[]), 'team', $2`, [users, team]);

  const arrivals = new Map<string, number>();
  const token = await mintToken(SECRET, { subject: 'bench-admin', roles: ['admin'], ttlSeconds: 3600 });
  const sockets = await openFollowerSockets(gatewayPort, token, users, (user, at, data) => {
    if (data.match_id === match && data.type === 'goal' && !arrivals.has(user)) arrivals.set(user, at);
  });
  await sleep(1000); // the gateway has read every stream's head; nothing else in flight

  await infra.db.query('BEGIN');
  await infra.db.query(`INSERT INTO football_event (match_id, minute, type, team, player) VALUES ($1, 23, 'goal', 'home', 'Bench Scorer')`, [match]);
  await infra.db.query(`UPDATE scoreboard SET home_score = home_score + 1 WHERE match_id = $1`, [match]);
  await infra.db.query('COMMIT');
  const committedAt = nowMs();

  const deadline = committedAt + Math.max(60_000, followers);
  let writtenMs: number | undefined; // when the notifier had committed every follower's notification
  while ((arrivals.size < followers || writtenMs === undefined) && nowMs() < deadline) {
    if (writtenMs === undefined) {
      const { rows } = await infra.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM notification WHERE match_id = $1 AND type = 'goal'`, [match]);
      if (rows[0]?.n === followers) writtenMs = nowMs() - committedAt;
    }
    await sleep(50);
  }
  for (const socket of sockets) socket.terminate();

  const latencies = Float64Array.from([...arrivals.values()].map((at) => at - committedAt));
  const summary = summarize(latencies) as LatencySummary;
  return {
    followers,
    sockets: sockets.length,
    delivered: arrivals.size,
    firstMs: latencies[0] ?? NaN,
    p50Ms: summary?.p50 ?? NaN,
    p99Ms: summary?.p99 ?? NaN,
    allMs: arrivals.size === followers ? summary.max : undefined,
    writtenMs,
    targetMs: followers <= 10_000 ? TARGETS.fanout10k : TARGETS.fanout100k,
  };
}

interface ApiResult {
  route: string;
  requests: number;
  errors: number;
  latency: LatencySummary | undefined;
  /** The API's own histogram (arrival → answer written): the bucket bound that holds the 99th percentile. */
  serverP99AtMostMs: number | undefined;
  /** p99 of how late the load generator sent requests (its own stalls count against the API) */
  sendLagP99Ms: number | undefined;
  targetP99Ms: number;
}

/** Cumulative bucket counts of matchcast_api_request_duration_seconds for one GET route pattern. */
async function serverBuckets(opsPort: number, pattern: string): Promise<Map<number, number>> {
  const text = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
  const buckets = new Map<number, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('matchcast_api_request_duration_seconds_bucket{') || !line.includes(`route="${pattern}"`) || !line.includes('method="GET"')) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    if (le !== undefined) buckets.set(le === '+Inf' ? Infinity : Number(le) * 1000, Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return buckets;
}

function p99Bound(before: Map<number, number>, after: Map<number, number>): number | undefined {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  if (total === 0) return undefined;
  return bounds.find((bound) => (after.get(bound) ?? 0) - (before.get(bound) ?? 0) >= 0.99 * total);
}

/** 1,000,000 rows straight into the table: a read benchmark needs the rows, not 1,000,000 stream events. */
async function seedNotifications(infra: Infra, users: number, total: number): Promise<void> {
  await infra.db.query(
    `INSERT INTO notification (user_id, title, message, type, match_id, data, priority, is_read, read_at, created_at)
     SELECT 'r' || (g % $1), 'Goal! Team A 1–0 Team B', 'Scored in minute ' || (g % 90), 'goal', 'm1',
            jsonb_build_object('minute', g % 90), 'high', g % 3 = 0, CASE WHEN g % 3 = 0 THEN now() END,
            now() - make_interval(secs => $2::int - g)
       FROM generate_series(1, $2::int) g`,
    [users, total],
  );
  // A table at steady state: vacuumed (visibility map set, as autovacuum keeps it) and the
  // seeding's dirty pages written out, so neither lands in the measurement.
  await infra.db.query('VACUUM (ANALYZE) notification');
  await infra.db.query('CHECKPOINT');
}

/** Open-loop load: request i is due at start + i/rate; its latency counts from then. */
async function load(url: (i: number) => string, tokens: string[], rate: number, seconds: number): Promise<{ latencies: Float64Array; sendLags: Float64Array; errors: number }> {
  const total = rate * seconds;
  const latencies = new Float64Array(total);
  const sendLags = new Float64Array(total); // how late the generator itself sent each request
  let errors = 0;
  const start = nowMs() + 100;
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - nowMs();
    if (wait > 1) await sleep(wait);
    const token = tokens[i % tokens.length] as string;
    sendLags[i] = Math.max(0, nowMs() - due);
    pending.push(
      fetch(url(i), { headers: { authorization: `Bearer ${token}` } })
        .then(async (res) => {
          await res.arrayBuffer();
          if (res.status !== 200) errors++;
        })
        .catch(() => {
          errors++;
        })
        .finally(() => {
          latencies[i] = nowMs() - due;
        }),
    );
  }
  await Promise.all(pending);
  return { latencies, sendLags, errors };
}

async function measureApi(infra: Infra, apiPort: number, apiOps: number, options: Options): Promise<ApiResult[]> {
  const started = nowMs();
  await seedNotifications(infra, options.users, options.notifications);
  console.log(`seeded ${options.notifications} notifications over ${options.users} users in ${((nowMs() - started) / 1000).toFixed(1)} s`);
  const userIds = Array.from({ length: options.users }, (_, i) => `r${i}`);
  // Shuffled so consecutive requests hit different users (and different index pages).
  for (let i = userIds.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [userIds[i], userIds[j]] = [userIds[j] as string, userIds[i] as string];
  }
  const tokens = await Promise.all(userIds.map((subject) => mintToken(SECRET, { subject, ttlSeconds: 3600 })));
  const base = `http://127.0.0.1:${apiPort}/api/notifications`;
  const routes: { route: string; pattern: string; url: (i: number) => string; target: number }[] = [
    { route: 'GET /api/notifications?limit=20', pattern: '/api/notifications', url: () => `${base}?limit=20`, target: TARGETS.list },
    { route: 'GET /api/notifications?unread_only=true&limit=20', pattern: '/api/notifications', url: () => `${base}?unread_only=true&limit=20`, target: TARGETS.list },
    { route: 'GET /api/notifications/unread-count', pattern: '/api/notifications/unread-count', url: () => `${base}/unread-count`, target: TARGETS.unread },
  ];
  for (const { url } of routes) await load(url, tokens, options.rate, 3); // warm-up: connections, plans, caches
  const results: ApiResult[] = [];
  for (const { route, pattern, url, target } of routes) {
    const before = await serverBuckets(apiOps, pattern);
    const { latencies, sendLags, errors } = await load(url, tokens, options.rate, options.seconds);
    const serverP99AtMostMs = p99Bound(before, await serverBuckets(apiOps, pattern));
    const sendLagP99Ms = summarize(sendLags)?.p99;
    results.push({ route, requests: latencies.length, errors, latency: summarize(latencies), serverP99AtMostMs, sendLagP99Ms, targetP99Ms: target });
  }
  return results;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  installExitHandlers(30 * 60_000);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const logDir = join(options.outDir, `${stamp}-users-logs`);
  mkdirSync(logDir, { recursive: true });

  const infra = await new Infra().start();
  await infra.seed(Math.max(2, options.followers.length));
  const common = { DATABASE_URL: infra.postgres.url, LOG_LEVEL: 'warn', SHUTDOWN_TIMEOUT_MS: '5000', AUTH_JWT_SECRET: SECRET };

  new Service('notify-listener', serviceScript('notify-listener'), { ...common, REDIS_URL: infra.redis.url, LISTENER_PORT: String(await freePort()) }, logDir).start();
  const gatewayPort = await freePort();
  const gatewayOps = await freePort();
  const gateway = new Service('gateway', serviceScript('gateway'), {
    ...common,
    REDIS_URL: infra.redis.url,
    PORT: String(gatewayPort),
    OPS_PORT: String(gatewayOps),
    HOST: '127.0.0.1',
    DRAIN_DELAY_MS: '0',
    WS_MAX_CHANNELS: String(CHANNELS_PER_SOCKET),
    WS_MAX_PAYLOAD_BYTES: '65536',
    WS_MAX_BUFFERED_BYTES: String(64 * 1024 * 1024),
    WS_MAX_CONNECTIONS_PER_IP: '0',
    WS_MAX_CONNECTIONS_PER_USER: '0',
    WS_CONNECTIONS_PER_IP_PER_SECOND: '0',
  }, logDir).start();
  const apiPort = await freePort();
  const apiOps = await freePort();
  const api = new Service('api', serviceScript('api'), { ...common, PORT: String(apiPort), HOST: '127.0.0.1', OPS_PORT: String(apiOps) }, logDir).start();
  const waits = [gateway.ready(gatewayOps, '/readyz'), api.ready(apiOps, '/readyz')];
  if (options.fanout) {
    const notifierOps = await freePort();
    waits.push(new Service('notifier', serviceScript('notifier'), { ...common, OPS_PORT: String(notifierOps) }, logDir).start().ready(notifierOps, '/healthz'));
  }
  await Promise.all(waits);

  const fanout: FanoutResult[] = [];
  if (options.fanout) {
    for (const [index, followers] of options.followers.entries()) {
      const result = await measureFanout(infra, gatewayPort, followers, index + 1);
      fanout.push(result);
      console.log(`fan-out ${followers} followers: ${result.delivered} delivered, all in ${ms(result.allMs)} ms`);
    }
  }
  const apiResults = options.api ? await measureApi(infra, apiPort, apiOps, options) : [];

  console.log('\nNotification fan-out: goal commit → `notification` on every follower\'s stream, at a socket');
  console.log('| followers | sockets | delivered | first ms | p50 ms | p99 ms | all ms | all written ms | target ms | met |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|');
  for (const r of fanout) {
    const met = r.allMs !== undefined && r.allMs <= r.targetMs;
    console.log(`| ${r.followers} | ${r.sockets} | ${r.delivered} | ${ms(r.firstMs)} | ${ms(r.p50Ms)} | ${ms(r.p99Ms)} | ${ms(r.allMs)} | ${ms(r.writtenMs)} | ${r.targetMs} | ${met ? 'yes' : 'NO'} |`);
  }
  if (apiResults.length > 0) {
    console.log(`\nNotification API: ${options.notifications} notifications over ${options.users} users, ${options.rate} requests/s, open loop`);
    console.log('| route | requests | errors | p50 ms | p99 ms | max ms | server p99 ≤ ms | generator lag p99 ms | target p99 ms | met |');
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|');
    for (const r of apiResults) {
      const met = r.errors === 0 && (r.latency?.p99 ?? Infinity) <= r.targetP99Ms;
      console.log(`| ${r.route} | ${r.requests} | ${r.errors} | ${ms(r.latency?.p50)} | ${ms(r.latency?.p99)} | ${ms(r.latency?.max)} | ${ms(r.serverP99AtMostMs)} | ${ms(r.sendLagP99Ms)} | ${r.targetP99Ms} | ${met ? 'yes' : 'NO'} |`);
    }
  }
  console.log(`\nresults: ${writeResults(options.outDir, `${stamp}-users`, { options, fanout, api: apiResults })}`);
  await cleanupAll();
}

main().catch(async (error: unknown) => {
  console.error('bench-users failed:', error);
  await cleanupAll();
  process.exit(1);
});
