/**
 * `make bench-user-cap`: what the per-user cap adds to a WebSocket upgrade. One gateway at a
 * time, four ways: no per-user cap, the per-process count (no Redis), the cluster-wide count in
 * Redis, and the cluster-wide count configured with Redis unreachable (the fallback). For each:
 * N authenticated connections of N/10 users opened in a burst (at most --in-flight at once, as
 * a reconnect storm arrives), then --serial connections one after another; reported: the time
 * from the request to the open socket, and the whole burst's. The four run in turn, --rounds
 * times (a loaded machine's noise falls on each alike); the medians of the rounds are reported.
 * Then the Redis side alone, which the upgrades' noise hides: the gateway's ClusterUserCount
 * (from its dist/) taking places one at a time and --clients at once (one turn, as a storm's
 * arrivals), with the time Redis spent on them (INFO commandstats).
 *
 * Options: --clients 3000  --in-flight 500  --serial 300  --rounds 3  --out <dir>
 * (`--rounds 0`: the Redis side only.)
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { mintToken } from '@matchcast/auth';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { parseFlags, positiveInt } from './args';
import { cleanupAll, installExitHandlers } from './cleanup';
import { Infra, ROOT, Service, freePort, serviceScript } from './infra';
import { writeResults } from './report';
import { median, nowMs, sleep, summarize, type LatencySummary } from './stats';

const SECRET = 'bench-user-cap-secret-0123456789abcdef';

interface Options {
  clients: number;
  inFlight: number;
  serial: number;
  rounds: number;
  outDir: string;
}

/** 0 (the Redis side only) or a positive number of rounds. */
const roundsOf = (flag: string, text: string): number => (text === '0' ? 0 : positiveInt(flag, text));

function parseArgs(argv: string[]): Options {
  const options: Options = { clients: 3000, inFlight: 500, serial: 300, rounds: 3, outDir: join(ROOT, 'bench', 'results') };
  parseFlags(argv, (flag, value) => {
    if (flag === '--clients') options.clients = positiveInt(flag, value());
    else if (flag === '--in-flight') options.inFlight = positiveInt(flag, value());
    else if (flag === '--serial') options.serial = positiveInt(flag, value());
    else if (flag === '--rounds') options.rounds = roundsOf(flag, value());
    else if (flag === '--out') options.outDir = value();
    else return false;
    return true;
  });
  return options;
}

/** Opens one authenticated connection: the milliseconds to the open socket. */
function open(url: string, token: string, sockets: WebSocket[]): Promise<number> {
  const started = nowMs();
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
    sockets.push(ws);
    ws.once('open', () => resolve(nowMs() - started));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

interface Run {
  name: string;
  burst: LatencySummary | undefined;
  burstMs: number;
  serial: LatencySummary | undefined;
}

async function measure(name: string, env: Record<string, string>, tokens: string[], options: Options, logDir: string): Promise<Run> {
  const [port, opsPort] = [await freePort(), await freePort()];
  const gateway = new Service(`gateway-${name}`, serviceScript('gateway'), {
    PORT: String(port),
    OPS_PORT: String(opsPort),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    DRAIN_DELAY_MS: '0',
    SHUTDOWN_TIMEOUT_MS: '5000',
    AUTH_JWT_SECRET: SECRET,
    WS_MAX_CONNECTIONS: '30000',
    // The load comes from one loopback address: per-address caps off.
    WS_MAX_CONNECTIONS_PER_IP: '0',
    WS_CONNECTIONS_PER_IP_PER_SECOND: '0',
    CANARY_INTERVAL_MS: '0',
    PRESENCE_INTERVAL_MS: '0',
    ...env,
  }, logDir).start();
  await gateway.ready(opsPort, '/readyz');
  const url = `ws://127.0.0.1:${port}/ws`;
  const sockets: WebSocket[] = [];
  try {
    const burst = new Float64Array(options.clients);
    const burstStarted = nowMs();
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(options.inFlight, options.clients) }, async () => {
      for (let i = next++; i < options.clients; i = next++) burst[i] = await open(url, tokens[i % tokens.length]!, sockets);
    }));
    const burstMs = nowMs() - burstStarted;
    const serial = new Float64Array(options.serial);
    for (let i = 0; i < options.serial; i++) serial[i] = await open(url, tokens[(options.clients + i) % tokens.length]!, sockets);
    return { name, burst: summarize(burst), burstMs, serial: summarize(serial) };
  } finally {
    for (const ws of sockets) ws.terminate();
    await gateway.stop();
  }
}

interface CountLike {
  ready: boolean;
  start(): void;
  take(userId: string): Promise<unknown>;
  close(): Promise<void>;
}
type CountClass = new (
  options: { redisUrl: string; gatewayId: string; maxPerUser: number; leaseMs: number; timeoutMs: number },
  metrics: { fallbacks: { inc(): void } },
  logger: { warn(): void },
) => CountLike;

/** The gateway's own cluster-wide count, loaded from its build output. */
async function measureTakes(redisUrl: string, burst: number, serialCount: number) {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { ClusterUserCount } = require(join(ROOT, 'services', 'gateway', 'dist', 'transport', 'cluster-user-count.js')) as { ClusterUserCount: CountClass };
  let fallbacks = 0;
  const count = new ClusterUserCount({ redisUrl, gatewayId: 'bench', maxPerUser: 1_000_000, leaseMs: 30_000, timeoutMs: 50 }, { fallbacks: { inc: () => fallbacks++ } }, { warn: () => undefined });
  const stats = new Redis(redisUrl);
  try {
    count.start();
    while (!count.ready) await sleep(10);
    const serial = new Float64Array(serialCount);
    for (let i = 0; i < serialCount; i++) {
      const started = nowMs();
      await count.take(`serial-${i % 100}`);
      serial[i] = nowMs() - started;
    }
    fallbacks = 0;
    const before = await evalUsec(stats);
    const started = nowMs();
    await Promise.all(Array.from({ length: burst }, (_, i) => count.take(`turn-${i % Math.max(1, Math.floor(burst / 10))}`)));
    const turnMs = nowMs() - started;
    const redisUsPerTake = ((await evalUsec(stats)) - before) / burst;
    return { serial: summarize(serial), turnMs, fallbacks, redisUsPerTake };
  } finally {
    stats.disconnect();
    await count.close();
  }
}

/** Microseconds Redis has spent in EVAL and EVALSHA. */
async function evalUsec(redis: Redis): Promise<number> {
  const info = await redis.info('commandstats');
  return [...info.matchAll(/^cmdstat_eval(?:sha)?:.*usec=(\d+),/gm)].reduce((sum, match) => sum + Number(match[1]), 0);
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  installExitHandlers(10 * 60_000);
  const logDir = join(options.outDir, 'user-cap-logs');
  mkdirSync(logDir, { recursive: true });
  const infra = await new Infra().start();
  // Ten connections a user, as tabs and devices: far under the cap, so every upgrade is counted and none refused.
  const users = Math.max(1, Math.ceil((options.clients + options.serial) / 10));
  const tokens = await Promise.all(Array.from({ length: users }, (_, i) => mintToken(SECRET, { subject: `bench-user-${i}`, ttlSeconds: 3600 })));
  const base = { DATABASE_URL: infra.postgres.url };
  const unreachable = `redis://127.0.0.1:${await freePort()}`;
  const configurations = [
    ['no per-user cap', { ...base, WS_MAX_CONNECTIONS_PER_USER: '0', REDIS_URL: infra.redis.url }],
    ['per-process count', { ...base, WS_MAX_CONNECTIONS_PER_USER: '1000' }],
    ['cluster count (Redis)', { ...base, WS_MAX_CONNECTIONS_PER_USER: '1000', REDIS_URL: infra.redis.url }],
    ['cluster count, Redis unreachable', { ...base, WS_MAX_CONNECTIONS_PER_USER: '1000', REDIS_URL: unreachable }],
  ] as const;
  const runs: Run[] = [];
  for (let round = 0; round < options.rounds; round++) {
    for (const [name, env] of configurations) runs.push({ ...(await measure(name.replace(/[^a-z]+/gi, '-'), env, tokens, options, logDir)), name });
  }
  const mid = (values: (number | undefined)[]) => median(values.filter((v): v is number => v !== undefined)).toFixed(2);
  for (const [name] of options.rounds > 0 ? configurations : []) {
    const mine = runs.filter((run) => run.name === name);
    console.log(
      `${name.padEnd(34)} burst of ${options.clients}: ${mid(mine.map((r) => r.burstMs))} ms, upgrade p50 ${mid(mine.map((r) => r.burst?.p50))} p99 ${mid(mine.map((r) => r.burst?.p99))} ms` +
        ` | one at a time: p50 ${mid(mine.map((r) => r.serial?.p50))} p90 ${mid(mine.map((r) => r.serial?.p90))} p99 ${mid(mine.map((r) => r.serial?.p99))} ms`,
    );
  }
  const takes = await measureTakes(infra.redis.url, options.clients, options.serial);
  console.log(
    `Redis takes alone: one at a time p50 ${takes.serial?.p50.toFixed(3)} p99 ${takes.serial?.p99.toFixed(3)} ms;` +
      ` ${options.clients} in one turn answered in ${takes.turnMs.toFixed(1)} ms (${takes.fallbacks} past the 50 ms timeout);` +
      ` Redis time ${takes.redisUsPerTake.toFixed(1)} µs a take`,
  );
  writeResults(options.outDir, 'user-cap', { options, runs, takes });
}

main()
  .catch((error: unknown) => {
    console.error('bench-user-cap failed:', error);
    process.exitCode = 1;
  })
  .finally(() => cleanupAll());
