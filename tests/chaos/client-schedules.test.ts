/**
 * Property: whatever faults happen while updates are committed, every @matchcast/client
 * MatchcastClient delivers to its handlers exactly the outbox rows routed to its channels —
 * per stream no loss, no duplicate, in seq order, each on the most specific channel it has —
 * and never reports a gap.
 *
 * Real processes: Postgres and Redis (testkit), one notify-listener, two gateways (each behind
 * a loopback TCP proxy the test can cut or slow down). fast-check generates a schedule per
 * run: 2–4 clients (channels among all, live:all, league:, match:; URL lists through proxies
 * and/or directly to gateways; maxResume 1, 2 or 100) and 1–5 timed faults within ~15 s —
 * proxy cuts, partitions (optionally flapping when they end), slow-network periods, gateway
 * SIGKILL or drain (SIGTERM → 1012) and restart on the same port, Redis SIGKILL and restart (the gateways fall back to Postgres LISTEN and
 * back). Direct SQL writes (MatchWriter, seeded by the schedule) go on meanwhile; after the
 * faults, the writes stop, the clients settle, and each is compared with the outbox.
 *
 * Seeded and bounded: CLIENT_SCHEDULE_SEED (or FUZZ_SEED) replays a run's schedules (the seed
 * is printed at the start and with the counterexample); CLIENT_SCHEDULE_RUNS (default 5);
 * the whole property stops generating after 150 s; no shrinking (each run takes ~20 s: the
 * first failing schedule is the one reported). Process logs: the LOG_DIR printed at the start.
 */
import fc from 'fast-check';
import pg from 'pg';
import WebSocket from 'ws';
import { MatchcastClient, type ConnectionState, type DeliveredMessage, type MatchcastError } from '@matchcast/client';
import { routeEvent } from '@matchcast/protocol';
import { GatewayProcess, Infra, LOG_DIR, ServiceProcess, freePort, waitFor } from '../harness/stack';
import { maxOutboxId, outboxRows } from '../harness/verify';
import { MatchWriter } from './support/match-writer';
import { describeStep, faultsEndMs, scheduleArb, type ClientSpec, type Schedule, type Step, type UrlKey } from './support/schedules';
import { TcpProxy } from './support/tcp-proxy';

const SEED: number = (() => {
  const raw = process.env.CLIENT_SCHEDULE_SEED ?? process.env.FUZZ_SEED;
  if (raw !== undefined && raw.trim() !== '') {
    const seed = Number(raw);
    if (!Number.isInteger(seed)) throw new Error(`CLIENT_SCHEDULE_SEED must be an integer, got ${JSON.stringify(raw)}`);
    return seed | 0;
  }
  return (Math.random() * 0x7fffffff) | 0;
})();
const NUM_RUNS = Math.max(1, Number(process.env.CLIENT_SCHEDULE_RUNS ?? '5') || 5);
/** No new run starts after this (a run already going finishes). */
const BUDGET_MS = 150_000;
/** Writes go on this long after the last fault is over. */
const TAIL_MS = 1500;
const SETTLE_MS = 15_000;

jest.setTimeout(BUDGET_MS + 90_000);

/**
 * Always tried first, whatever the seed: a long partition of the only path of clients that
 * lean on `since` (maxResume 1, `live:all`), then a flapping path that cuts their reconnects
 * while the gateway is still replaying.
 */
const EXAMPLES: Schedule[] = [
  {
    writerSeed: 1234,
    clients: [
      { channels: ['all'], urls: ['proxy0'], maxResume: 1 },
      { channels: ['live:all'], urls: ['proxy0'], maxResume: 100 },
      { channels: ['league:l1', 'league:l2'], urls: ['proxy0'], maxResume: 2 },
    ],
    steps: [{ atMs: 1000, kind: 'partition', proxy: 0, forMs: 6500, flapAfterMs: Number(process.env.CLIENT_SCHEDULE_FLAP_MS ?? '40') }],
  },
];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Received {
  stream: string;
  seq: number;
  channel: string;
  /** The channel whose handler got it. */
  handler: string;
  id: string;
}

interface ClientUnderTest {
  index: number;
  spec: ClientSpec;
  channels: string[];
  client: MatchcastClient;
  received: Received[];
  errors: MatchcastError[];
  states: ConnectionState[];
}

describe('chaos: @matchcast/client under generated fault schedules', () => {
  const infra = new Infra();
  const processes: ServiceProcess[] = [];
  const gateways: GatewayProcess[] = [];
  const proxies: TcpProxy[] = [];
  let pool: pg.Pool;
  const started = Date.now();
  const summaries: string[] = [];

  beforeAll(async () => {
    console.log(
      `[client-schedules] CLIENT_SCHEDULE_SEED=${SEED} (replay: CLIENT_SCHEDULE_SEED=${SEED} pnpm exec jest tests/chaos/client-schedules.test.ts); ` +
        `${NUM_RUNS} runs; logs in ${LOG_DIR}`,
    );
    await infra.start(true);
    infra.db.on('error', () => undefined);
    pool = new pg.Pool({ connectionString: infra.postgres.url, max: 4 });
    pool.on('error', () => undefined);
    const env = { DATABASE_URL: infra.postgres.url, REDIS_URL: infra.redis.url };
    processes.push(new ServiceProcess('notify-listener', { ...env, LISTENER_HOST: '127.0.0.1', LISTENER_PORT: String(await freePort()) }, 'cs-listener').start());
    for (let i = 0; i < 2; i++) {
      const gateway = new GatewayProcess(await freePort(), await freePort(), { ...env, REDIS_PROBE_INTERVAL_MS: '500' }, `cs-gateway-${i}`);
      gateways.push(gateway);
      processes.push(gateway.start());
      proxies.push(await new TcpProxy(gateway.port).start());
    }
    await Promise.all(gateways.map((gateway) => gateway.ready()));
    await waitFor('both gateways in redis mode', async () => ((await Promise.all(gateways.map((g) => g.mode()))).every((m) => m === 'redis') ? true : undefined));
  }, 90_000);

  afterAll(async () => {
    console.log(`[client-schedules] CLIENT_SCHEDULE_SEED=${SEED}; ${((Date.now() - started) / 1000).toFixed(1)} s\n  ${summaries.join('\n  ')}\n  logs: ${LOG_DIR}`);
    await Promise.all(proxies.map((proxy) => proxy.stop().catch(() => undefined)));
    await Promise.all(processes.map((p) => p.stop().catch(() => undefined)));
    await pool?.end().catch(() => undefined);
    await infra.destroy();
  }, 60_000);

  const urlOf = (key: UrlKey): string =>
    key === 'proxy0' ? proxies[0]!.wsUrl : key === 'proxy1' ? proxies[1]!.wsUrl : key === 'gateway0' ? gateways[0]!.wsUrl : gateways[1]!.wsUrl;

  /** Runs one fault; faults on the same component queue behind each other. */
  async function runFault(step: Step, log: (line: string) => void): Promise<void> {
    switch (step.kind) {
      case 'cut':
        log(`cut proxy${step.proxy}: ${proxies[step.proxy]!.cut()} sockets`);
        return;
      case 'slow': {
        const proxy = proxies[step.proxy]!;
        proxy.latencyMs = step.latencyMs;
        log(`proxy${step.proxy} +${step.latencyMs} ms`);
        await sleep(step.forMs);
        proxy.latencyMs = 0;
        log(`proxy${step.proxy} fast again`);
        return;
      }
      case 'partition': {
        const proxy = proxies[step.proxy]!;
        proxy.refusing = true;
        log(`partition proxy${step.proxy}: ${proxy.cut()} sockets cut`);
        await sleep(step.forMs);
        proxy.refusing = false;
        if (step.flapAfterMs === null) return log(`proxy${step.proxy} open again`);
        proxy.flapAfterMs = step.flapAfterMs;
        log(`proxy${step.proxy} open again, flapping`);
        await sleep(1500);
        proxy.flapAfterMs = undefined;
        log(`proxy${step.proxy} stable (${proxy.cuts} cuts so far)`);
        return;
      }
      case 'killGateway':
      case 'drainGateway': {
        const gateway = gateways[step.gateway]!;
        await (step.kind === 'killGateway' ? gateway.kill() : gateway.stop('SIGTERM'));
        log(`gateway${step.gateway} ${step.kind === 'killGateway' ? 'killed' : 'drained'}`);
        await sleep(step.downMs);
        gateway.start();
        await gateway.ready();
        log(`gateway${step.gateway} ready again`);
        return;
      }
      case 'killRedis':
        await infra.redis.kill();
        log('redis killed');
        await sleep(step.downMs);
        await infra.redis.start();
        log('redis back');
        return;
    }
  }

  function resource(step: Step): string {
    if (step.kind === 'cut' || step.kind === 'slow' || step.kind === 'partition') return `proxy${step.proxy}`;
    if (step.kind === 'killRedis') return 'redis';
    return `gateway${step.gateway}`;
  }

  /** Every component back: gateways running and ready, Redis up, proxies at full speed. */
  async function restore(): Promise<void> {
    for (const proxy of proxies) {
      proxy.latencyMs = 0;
      proxy.refusing = false;
      proxy.flapAfterMs = undefined;
    }
    if (!infra.redis.running) await infra.redis.start();
    await Promise.all(gateways.map(async (gateway) => {
      if (await gateway.mode() === undefined) {
        const exited = gateway.child ? await Promise.race([gateway.child.exited.then(() => true), sleep(0).then(() => false)]) : true;
        if (exited) gateway.start();
      }
      await gateway.ready();
    }));
  }

  let runNumber = 0;

  async function runSchedule(schedule: Schedule): Promise<string[]> {
    const run = ++runNumber;
    const runStarted = Date.now();
    const timeline: string[] = [];
    const log = (line: string) => timeline.push(`${String(Date.now() - runStarted).padStart(6)} ms  ${line}`);
    const prefix = `cs${run}x${(schedule.writerSeed % 100000).toString(36)}`;
    const resolveChannel = (key: string) => key.replace(/^(league|match):/, `$1:${prefix}-`);
    const clients: ClientUnderTest[] = schedule.clients.map((spec, index) => {
      const client = new MatchcastClient({
        url: spec.urls.map(urlOf),
        WebSocket: WebSocket as never,
        backoff: { baseMs: 100, maxMs: 1000 },
        pingIntervalMs: 1000,
        maxResume: spec.maxResume,
      });
      const entry: ClientUnderTest = { index, spec, channels: spec.channels.map(resolveChannel), client, received: [], errors: [], states: [] };
      client.on('error', (error) => entry.errors.push(error));
      client.on('state', (state) => entry.states.push(state));
      for (const channel of entry.channels) {
        client.subscribe(channel, (event: DeliveredMessage) =>
          entry.received.push({ stream: event.stream, seq: event.seq, channel: event.channel, handler: channel, id: event.id }),
        );
      }
      return entry;
    });
    const writer = new MatchWriter(pool, prefix, schedule.writerSeed);
    const problems: string[] = [];
    try {
      for (const { client } of clients) client.connect();
      await waitFor('every client live', async () => (clients.every((c) => c.client.state === 'live') ? true : undefined), 15_000);
      const before = await maxOutboxId(pool);
      await writer.setup();
      writer.start();
      log(`writing (${prefix})`);

      // The faults, each at its time; faults on one component wait for the one before.
      const chains = new Map<string, Promise<void>>();
      const faultErrors: string[] = [];
      for (const step of schedule.steps) {
        const key = resource(step);
        const previous = chains.get(key) ?? Promise.resolve();
        chains.set(key, (async () => {
          await sleep(step.atMs);
          await previous;
          log(describeStep(step));
          await runFault(step, log);
        })().catch((error) => void faultErrors.push(`${describeStep(step)}: ${String(error)}`)));
      }
      await Promise.all(chains.values());
      const remaining = faultsEndMs(schedule) + TAIL_MS - (Date.now() - runStarted);
      if (remaining > 0) await sleep(remaining);
      await restore();
      log('faults over, everything restored');
      await writer.stop();
      log(`writes stopped: ${writer.transactions} transactions (${writer.failures} failed)`);
      if (faultErrors.length > 0) problems.push(`harness: a fault failed: ${faultErrors.join('; ')}`);

      // Settle: every client live and caught up with the outbox (or the deadline), then quiet.
      const rows = (await outboxRows(pool, before)).map((row) => ({ ...row, seq: Number(row.seq) }));
      const expected = clients.map(({ channels }) => {
        const wanted = new Set(channels);
        return rows.filter((row) => routeEvent(row).some((channel) => wanted.has(channel)));
      });
      const runStreams = new Set(writer.streams);
      await waitFor('every client live and caught up', async () =>
        clients.every((c, i) => c.client.state === 'live' && c.received.filter((r) => runStreams.has(r.stream)).length >= expected[i]!.length) ? true : undefined,
      SETTLE_MS).catch(() => undefined);
      let count = -1;
      while (count !== clients.reduce((n, c) => n + c.received.length, 0)) {
        count = clients.reduce((n, c) => n + c.received.length, 0);
        await sleep(500);
      }
      log('settled');

      for (const [i, c] of clients.entries()) {
        const name = `client ${i} ${JSON.stringify(c.channels)} via ${c.spec.urls.join(',')} maxResume ${c.spec.maxResume}`;
        if (c.client.state !== 'live') problems.push(`${name}: not live after the schedule (state ${c.client.state}; states ${c.states.join('→')})`);
        const want = new Map<string, { seqs: number[]; channel: Map<number, string> }>();
        for (const row of expected[i]!) {
          const entry = want.get(row.stream) ?? { seqs: [], channel: new Map() };
          entry.seqs.push(row.seq);
          entry.channel.set(row.seq, routeEvent(row).find((channel) => c.channels.includes(channel))!);
          want.set(row.stream, entry);
        }
        const got = new Map<string, number[]>();
        let outside = 0;
        for (const r of c.received) {
          if (!runStreams.has(r.stream)) {
            outside++;
            continue;
          }
          got.set(r.stream, [...(got.get(r.stream) ?? ([] as number[])), r.seq]);
          const channel = want.get(r.stream)?.channel.get(r.seq);
          if (r.channel !== r.handler) problems.push(`${name}: ${r.stream}@${r.seq} came on ${r.channel} to the handler of ${r.handler}`);
          else if (channel !== undefined && channel !== r.channel) problems.push(`${name}: ${r.stream}@${r.seq} came on ${r.channel}, expected the most specific ${channel}`);
        }
        for (const stream of new Set([...want.keys(), ...got.keys()])) {
          const wanted = want.get(stream)?.seqs ?? [];
          const received = got.get(stream) ?? [];
          if (JSON.stringify(wanted) === JSON.stringify(received)) continue;
          const missing = wanted.filter((seq) => !received.includes(seq));
          const unexpected = received.filter((seq) => !wanted.includes(seq));
          const duplicated = received.filter((seq, k) => received.indexOf(seq) !== k);
          const disorder = received.filter((seq, k) => k > 0 && seq <= received[k - 1]!);
          problems.push(
            `${name}: ${stream}: expected ${wanted.length} seqs ${compact(wanted)}, received ${received.length} ${compact(received)}` +
              ` — missing [${missing.slice(0, 20).join(',')}] unexpected [${unexpected.slice(0, 20).join(',')}] duplicated [${duplicated.slice(0, 20).join(',')}] out of order [${disorder.slice(0, 20).join(',')}]`,
          );
        }
        const d = c.client.diagnostics;
        if (d.gaps !== 0) problems.push(`${name}: diagnostics.gaps = ${d.gaps}`);
        if (d.resets !== 0) problems.push(`${name}: diagnostics.resets = ${d.resets}`);
        const fatal = c.errors.filter((e) => e.fatal);
        if (fatal.length > 0) problems.push(`${name}: fatal errors ${JSON.stringify(fatal.map((e) => [e.code, e.message]))}`);
        log(
          `${name}: ${c.received.length} delivered (${expected[i]!.length} expected, ${outside} of other runs' streams), ` +
            `connects ${d.connects}, duplicates dropped ${d.duplicates}, gaps ${d.gaps}, errors ${c.errors.map((e) => e.code).join(',') || 'none'}`,
        );
      }
    } catch (error) {
      problems.push(`harness error: ${(error as Error).stack ?? String(error)}`);
    } finally {
      for (const { client } of clients) client.close();
      await writer.stop();
      await restore().catch((error) => problems.push(`harness: could not restore: ${String(error)}`));
    }
    const seconds = ((Date.now() - runStarted) / 1000).toFixed(1);
    summaries.push(`run ${run}: ${problems.length === 0 ? 'ok' : 'FAILED'} in ${seconds} s — ${schedule.steps.map(describeStep).join('; ')}`);
    console.log(`[client-schedules] run ${run} (${seconds} s): ${schedule.clients.length} clients, ${schedule.steps.map(describeStep).join('; ')}\n${timeline.join('\n')}`);
    if (problems.length > 0) console.error(`[client-schedules] run ${run} problems:\n  ${problems.join('\n  ')}`);
    return problems;
  }

  it('every client delivers exactly the outbox rows of its channels, whatever the schedule', async () => {
    const deadline = Date.now() + BUDGET_MS;
    const property = fc.asyncProperty(scheduleArb, async (schedule) => {
      if (Date.now() > deadline) return true;
      const problems = await runSchedule(schedule);
      if (problems.length > 0) throw new Error(problems.join('\n'));
      return true;
    });
    try {
      await fc.assert(property, { seed: SEED, numRuns: NUM_RUNS, endOnFailure: true, examples: EXAMPLES.map((example) => [example]) });
    } catch (error) {
      const cause = (error as { cause?: unknown }).cause;
      const why = cause instanceof Error ? cause.message : cause !== undefined ? String(cause) : '';
      throw new Error(
        `client schedule property FAILED (seed ${SEED}; replay: CLIENT_SCHEDULE_SEED=${SEED} pnpm exec jest tests/chaos/client-schedules.test.ts)\n` +
          `logs: ${LOG_DIR}\n\n${(error as Error).message}${why ? `\n\nViolations:\n${why}` : ''}`,
      );
    }
  });
});

/** 1..40 instead of forty numbers; breaks shown. */
function compact(seqs: number[]): string {
  const parts: string[] = [];
  let start: number | undefined;
  let last: number | undefined;
  for (const seq of [...seqs, Number.NaN]) {
    if (last !== undefined && seq === last + 1) {
      last = seq;
      continue;
    }
    if (start !== undefined) parts.push(start === last ? `${start}` : `${start}..${last}`);
    start = seq;
    last = seq;
  }
  return `[${parts.join(',')}]`;
}
