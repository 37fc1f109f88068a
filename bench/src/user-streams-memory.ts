/**
 * `make bench-user-streams`: what a gateway keeps for user streams as the number of users
 * grows (issue 10, "scale with users, not against them"). Real services on their own
 * Postgres and Redis on loopback: notify-listener → Redis → one gateway, with 1,000 local
 * WebSocket clients, each its own user subscribed to its own `user:<id>`.
 *
 * Then, phase after phase, every one of N users receives a notification (N = 10,000 and
 * 100,000 by default; the 1,000 local users are among them), written by
 * matchcast_notify_users in batches as the notifier and the API do. After each phase, once
 * the gateway has taken in every bus message: its RSS and live heap (after a full GC, asked
 * for through the gateway's inspector on loopback, so that garbage of the burst does not
 * count), the user and match streams it tracks, the bus messages it received (by path), how
 * many it dropped as untracked, the CPU it spent, and that each local client got exactly its
 * own notifications.
 *
 * Options: --clients 1000  --users 10000,100000  --batch 1000  --gateway <main.js> (another
 * gateway build, e.g. an older commit's, to compare)  --out <dir>
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { mintToken } from '@matchcast/auth';
import WebSocket from 'ws';
import { cleanupAll, installExitHandlers, onCleanup } from './cleanup';
import { Infra, ROOT, Service, freePort, serviceScript } from './infra';
import { collectGarbage } from './inspector';
import { cpuTime, cpuDelta, rssKb } from './proc-stats';
import { writeResults } from './report';

const SECRET = 'bench-user-streams-secret-of-32-bytes+';
const log = (line: string) => console.log(line);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Options {
  clients: number;
  users: number[];
  batch: number;
  gatewayScript: string;
  outDir: string;
}

function parseArgs(argv: string[]): Options {
  const options: Options = {
    clients: 1000,
    users: [10_000, 100_000],
    batch: 1000,
    gatewayScript: serviceScript('gateway'),
    outDir: join(ROOT, 'bench', 'results'),
  };
  const count = (arg: string, raw: string | undefined, max: number) => {
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new Error(`${arg} needs an integer in [1, ${max}], got "${raw}"`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    if (arg === '--clients') options.clients = count(arg, value(), 10_000);
    else if (arg === '--users') options.users = value().split(',').map((n) => count(arg, n, 2_000_000));
    else if (arg === '--batch') options.batch = count(arg, value(), 10_000);
    else if (arg === '--gateway') options.gatewayScript = value();
    else if (arg === '--out') options.outDir = value();
    else throw new Error(`unknown option ${arg}`);
  }
  if (options.users.some((n) => n < options.clients)) throw new Error('--users must each include the --clients local users');
  return options;
}

/** Metric values from the gateway's /metrics: the sum over a name's series, or one series by label. */
async function scrape(port: number): Promise<(name: string, label?: string) => number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const lines = text.split('\n').filter((line) => !line.startsWith('#'));
  return (name, label = '') => {
    const values = lines
      .filter((line) => (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) && line.includes(label))
      .map((line) => Number(line.slice(line.lastIndexOf(' ') + 1)));
    return values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0);
  };
}

/** One local client: user `user`, subscribed to its own stream, counting the notifications it gets. */
class LocalClient {
  readonly seqs: number[] = [];
  private socket!: WebSocket;

  constructor(readonly user: string) {}

  async open(port: number): Promise<void> {
    const token = await mintToken(SECRET, { subject: this.user, ttlSeconds: 3600 });
    this.socket = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${token}`);
    await new Promise<void>((resolve, reject) => {
      this.socket.once('error', reject);
      this.socket.once('open', () => this.socket.send(JSON.stringify({ action: 'subscribe', channels: [`user:${this.user}`] })));
      this.socket.on('message', (raw) => {
        const message = JSON.parse(String(raw)) as { type: string; stream?: string; seq?: number; code?: string };
        if (message.type === 'subscribed') resolve();
        else if (message.type === 'error') reject(new Error(`${this.user}: ${message.code}`));
        else if (message.type === 'notification') {
          if (message.stream !== `user:${this.user}`) throw new Error(`${this.user} got ${message.stream}`);
          this.seqs.push(message.seq!);
        }
      });
    });
  }

  close(): void {
    this.socket.terminate();
  }
}

interface Sample {
  rssMb: number;
  heapUsedMb: number | undefined;
  trackedUser: number | undefined;
  trackedMatch: number | undefined;
  received: number;
  receivedByPostgres: number;
  untracked: number | undefined;
  brokerSwitches: number;
}

async function sample(gateway: Service, opsPort: number, inspectPort: number): Promise<Sample> {
  await collectGarbage(inspectPort);
  const metric = await scrape(opsPort);
  const heap = metric('nodejs_heap_size_used_bytes');
  return {
    rssMb: rssKb(gateway.pid) / 1024,
    heapUsedMb: heap === undefined ? undefined : heap / 2 ** 20,
    trackedUser: metric('matchcast_gateway_tracked_streams', 'kind="user"'),
    trackedMatch: metric('matchcast_gateway_tracked_streams', 'kind="match"'),
    received: metric('matchcast_gateway_events_received_total') ?? 0,
    receivedByPostgres: metric('matchcast_gateway_events_received_total', 'source="postgres"') ?? 0,
    untracked: metric('matchcast_gateway_untracked_events_total'),
    brokerSwitches: metric('matchcast_gateway_broker_switches_total') ?? 0,
  };
}

/** Publishes the listener could not make (Redis too slow): dropped by design, the gateways' outbox reads make up for those they need. */
async function publishFailures(listenerPort: number): Promise<number> {
  return (await scrape(listenerPort))('matchcast_listener_publish_failures_total') ?? 0;
}

/**
 * Waits until every one of `expected` notifications has either reached the gateway or been
 * dropped by the listener (or the timeout); returns how many reached it and how many were dropped.
 */
async function received(opsPort: number, listenerPort: number, from: { received: number; dropped: number }, expected: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = ((await scrape(opsPort))('matchcast_gateway_events_received_total') ?? 0) - from.received;
    const dropped = (await publishFailures(listenerPort)) - from.dropped;
    if (got + dropped >= expected || Date.now() > deadline) return { got, dropped };
    await sleep(1000); // a scrape costs the gateway CPU too: not too often
  }
}

interface PhaseResult extends Sample {
  users: number;
  notifications: number;
  writeSeconds: number;
  receivedDelta: number;
  /** Notifications the listener could not publish to Redis (under load): never reached the gateway by the bus. */
  listenerDropped: number;
  /** Of those, through the Postgres LISTEN fallback: the bus (Redis) had a gap, both paths delivered meanwhile. */
  receivedByPostgresDelta: number;
  switchesDelta: number;
  untrackedDelta: number | undefined;
  cpuSeconds: number;
  localDelivered: number;
  localExact: boolean;
}

const mb = (value: number | undefined) => (value === undefined ? '—' : value.toFixed(1));
const num = (value: number | undefined) => (value === undefined ? '—' : value.toLocaleString('en-US'));

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  installExitHandlers(30 * 60_000);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const logDir = join(options.outDir, `${stamp}-user-streams-logs`);
  mkdirSync(logDir, { recursive: true });

  log(`user streams memory: ${options.clients} local clients, users ${options.users.join(', ')}, batches of ${options.batch}`);
  const infra = await new Infra().start();
  const listenerPort = await freePort();
  const listener = new Service('notify-listener', serviceScript('notify-listener'), { DATABASE_URL: infra.postgres.url, REDIS_URL: infra.redis.url, LISTENER_PORT: String(listenerPort), LOG_LEVEL: 'warn' }, logDir).start();
  await listener.ready(listenerPort, '/readyz');
  const port = await freePort();
  const opsPort = await freePort();
  const inspectPort = await freePort();
  const gateway = new Service(
    'gateway',
    options.gatewayScript,
    {
      PORT: String(port),
      OPS_PORT: String(opsPort),
      HOST: '127.0.0.1',
      DATABASE_URL: infra.postgres.url,
      REDIS_URL: infra.redis.url,
      AUTH_JWT_SECRET: SECRET,
      LOG_LEVEL: 'warn',
      DRAIN_DELAY_MS: '0',
      WS_MAX_CONNECTIONS: String(options.clients + 100),
      WS_MAX_CONNECTIONS_PER_IP: '0',
      WS_MAX_CONNECTIONS_PER_USER: '0',
      WS_CONNECTIONS_PER_IP_PER_SECOND: '0',
    },
    logDir,
    [`--inspect=127.0.0.1:${inspectPort}`],
  ).start();
  await gateway.ready(opsPort, '/readyz');
  await sleep(1000);
  const mode = (await scrape(opsPort))('matchcast_gateway_broker_mode', 'mode="redis"');
  if (mode !== 1) throw new Error('the gateway is not in Redis mode: bus message counts would include the Postgres path');
  const idle = await sample(gateway, opsPort, inspectPort);
  log(`gateway idle (Redis mode): RSS ${mb(idle.rssMb)} MB, live heap ${mb(idle.heapUsedMb)} MB`);

  // Local users are the first `clients` users, so every phase notifies them too.
  const clients = Array.from({ length: options.clients }, (_, i) => new LocalClient(`u${i}`));
  onCleanup('local clients', () => clients.forEach((c) => c.close()));
  for (let i = 0; i < clients.length; i += 100) await Promise.all(clients.slice(i, i + 100).map((c) => c.open(port)));
  await sleep(1000);
  const connected = await sample(gateway, opsPort, inspectPort);
  log(`${options.clients} clients subscribed: RSS ${mb(connected.rssMb)} MB, live heap ${mb(connected.heapUsedMb)} MB, tracked user streams ${num(connected.trackedUser)}`);

  const phases: PhaseResult[] = [];
  let round = 0;
  for (const users of options.users) {
    round++;
    const before = await sample(gateway, opsPort, inspectPort);
    const droppedBefore = await publishFailures(listenerPort);
    const cpuBefore = cpuTime(gateway.pid);
    const started = Date.now();
    for (let i = 0; i < users; i += options.batch) {
      const ids = Array.from({ length: Math.min(options.batch, users - i) }, (_, j) => `u${i + j}`);
      await infra.db.query(
        `SELECT 1 FROM matchcast_notify_users($1::text[], $2, 'Bench notification', 'bench', NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
        [ids, `Round ${round}`],
      );
    }
    const writeSeconds = (Date.now() - started) / 1000;
    const { got: receivedDelta, dropped: listenerDropped } = await received(opsPort, listenerPort, { received: before.received, dropped: droppedBefore }, users, 120_000);
    const deadline = Date.now() + 30_000;
    while (clients.some((c) => c.seqs.length < round) && Date.now() < deadline) await sleep(100);
    const cpuSeconds = cpuDelta(cpuBefore, cpuTime(gateway.pid)).totalS;
    const after = await sample(gateway, opsPort, inspectPort);
    const localDelivered = clients.reduce((sum, c) => sum + c.seqs.length, 0);
    const phase: PhaseResult = {
      ...after,
      users,
      notifications: users,
      writeSeconds,
      receivedDelta,
      listenerDropped,
      receivedByPostgresDelta: after.receivedByPostgres - before.receivedByPostgres,
      switchesDelta: after.brokerSwitches - before.brokerSwitches,
      untrackedDelta: after.untracked === undefined || before.untracked === undefined ? undefined : after.untracked - before.untracked,
      cpuSeconds,
      localDelivered,
      // Each local client has exactly one notification per round, with contiguous seqs.
      localExact: clients.every((c) => c.seqs.length === round && c.seqs.every((seq, k) => seq === k + 1)),
    };
    phases.push(phase);
    log(
      `${num(users)} users notified in ${writeSeconds.toFixed(1)} s: bus messages received ${num(receivedDelta)} (${num(phase.receivedByPostgresDelta)} through the Postgres fallback, ${phase.switchesDelta} broker switches; ${num(listenerDropped)} publishes dropped by the listener), dropped as untracked ${num(phase.untrackedDelta)}, ` +
        `gateway CPU ${cpuSeconds.toFixed(2)} s; RSS ${mb(after.rssMb)} MB, live heap ${mb(after.heapUsedMb)} MB; tracked streams user ${num(after.trackedUser)}, match ${num(after.trackedMatch)}; ` +
        `local notifications ${num(localDelivered)} (${phase.localExact ? 'exactly one per client per round, in order' : 'NOT EXACT'})`,
    );
  }

  const report = [
    '',
    `| users notified | messages received by the gateway (of which Postgres fallback) | dropped as untracked | gateway CPU (s) | RSS (MB) | live heap (MB) | tracked user streams | tracked match streams | local clients' notifications |`,
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    `| 0 (idle, no clients) | — | — | — | ${mb(idle.rssMb)} | ${mb(idle.heapUsedMb)} | ${num(idle.trackedUser)} | ${num(idle.trackedMatch)} | — |`,
    `| 0 (${options.clients} clients) | — | — | — | ${mb(connected.rssMb)} | ${mb(connected.heapUsedMb)} | ${num(connected.trackedUser)} | ${num(connected.trackedMatch)} | — |`,
    ...phases.map(
      (p) =>
        `| ${num(p.users)} | ${num(p.receivedDelta)} (${num(p.receivedByPostgresDelta)}) | ${num(p.untrackedDelta)} | ${p.cpuSeconds.toFixed(2)} | ${mb(p.rssMb)} | ${mb(p.heapUsedMb)} | ${num(p.trackedUser)} | ${num(p.trackedMatch)} | ${num(p.localDelivered)}${p.localExact ? ', exact' : ', NOT EXACT'} |`,
    ),
  ];
  for (const line of report) log(line);
  const file = writeResults(options.outDir, `${stamp}-user-streams`, { options, idle, connected, phases });
  log(`\nresults: ${file}`);
  // The local clients must have every one of their notifications, whatever the bus dropped.
  const failed = phases.some((p) => !p.localExact);
  await cleanupAll();
  process.exit(failed ? 1 : 0);
}

main().catch(async (error: unknown) => {
  console.error(error);
  await cleanupAll();
  process.exit(1);
});
