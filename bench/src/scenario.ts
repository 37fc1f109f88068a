import { ClientPool, type ConnectResult } from './clients/pool';
import { CpuBudget, type Component } from './cpu-budget';
import type { WireProtocol } from './clients/messages';
import type { Service } from './infra';
import { cpuDelta, cpuTime, kernelCounters, kernelCountersPer, rssKb, type CpuTime, type KernelCounters } from './proc-stats';
import { cdf, concat, nowMs, sleep, summarize, type LatencySummary } from './stats';
import type { RedisTap } from './tap';
import type { EventWriter } from './writer';

/** A server under test, already started and ready. */
export interface Target {
  name: string;
  service: Service;
  wsUrl: string;
  protocol: WireProtocol;
  /** Also report this process's CPU (the notify-listener in Redis mode) per event. */
  upstream?: Service;
  /** Events pass through Redis: time their arrival there too. */
  tap?: RedisTap;
}

export interface ScenarioSpec {
  label: string;
  clients: number;
  /** Channel each client subscribes to (index = client). */
  channelOf: (client: number) => string;
  rate: number;
  seconds: number;
  workers: number;
  /** Clients connected and no events for this long before the events: the idle CPU reading. */
  idleSeconds: number;
}

export interface ScenarioResult {
  label: string;
  server: string;
  clients: number;
  connected: number;
  connectFailures: number;
  connectErrors: string[];
  connectMs: number;
  channels: string;
  rate: number;
  seconds: number;
  committed: number;
  achievedRate: number;
  writerIssueLagMaxMs: number;
  commitRoundTripMs: LatencySummary | undefined;
  expected: number;
  delivered: number;
  deliveredRatio: number;
  lost: number;
  clientsShort: number;
  duplicates: number;
  gaps: number;
  unexpected: number;
  parseMismatches: number;
  closedDuringRun: Record<string, number>;
  latencyMs: LatencySummary | undefined;
  /** The latency distribution as [ms, fraction ≤ it] points (stats.ts `cdf`), for the plots. */
  latencyCdfMs: [number, number][];
  latencyRecorded: number;
  /** commit → the event on Redis (NOTIFY + listener), when the path has Redis. */
  commitToRedisMs: LatencySummary | undefined;
  deliveriesPerSecond: number;
  deliveryWindowS: number;
  drainTimedOut: boolean;
  serverCpu: { userS: number; systemS: number; totalS: number; utilization: number };
  /** The server's syscalls, page faults and context switches per delivery, over the same window as serverCpu. */
  kernelPerDelivery: KernelCounters;
  cpuPerDeliveryUs: number;
  /**
   * This server's place in a side-by-side round (1 = first): the order its process was started,
   * subscribed to the events and had its clients connected. Redis hands each event to its
   * subscribers in that order, and the first server's writes wake the clients: with the same
   * server in both places (--peers prebuilt,prebuilt) the two differ by up to ±3 % at light load
   * and the first costs 7-9 % more on a busy machine (docs/benchmarks.md).
   */
  startOrder: number;
  /** The server's CPU (ms per second) with its clients connected and no events (ScenarioSpec.idleSeconds). */
  idleCpuMsPerS: number;
  upstreamCpuPerEventUs: number | undefined;
  rssBeforeKb: number;
  rssIdleKb: number;
  rssPerConnectionKb: number;
  rssAfterRunKb: number;
  /** Cores each component used during the measured window (the machine has cpus cores). */
  coresUsed: Record<string, number>;
}

/** Stream(s) a subscription covers: match:<id> → its stream; the broad channels → every stream. */
function expectedFor(channel: string, perStream: Map<string, number>, total: number): number {
  if (channel === 'all' || channel === 'live:all' || channel.startsWith('league:')) return total;
  return perStream.get(channel) ?? 0;
}

/** One server's part of a run: its clients, connected. */
interface Stage {
  target: Target;
  pid: number;
  pool: ClientPool;
  budget: CpuBudget;
  connect: ConnectResult;
  rssBeforeKb: number;
}

/** What is read of a server around the events (before, then after them). */
interface Reading {
  cpu: CpuTime;
  kernel: KernelCounters;
  budget: Record<string, number>;
  upstream: CpuTime | undefined;
}

function read(stage: Stage): Reading {
  return {
    cpu: cpuTime(stage.pid),
    kernel: kernelCounters(stage.pid),
    budget: stage.budget.read(),
    upstream: stage.target.upstream ? cpuTime(stage.target.upstream.pid) : undefined,
  };
}

/**
 * One measured run against a ready server: connect the clients (idle RSS), write the events,
 * wait for the deliveries, then read CPU, latency, counts. Stops the clients, not the server.
 */
export async function runScenario(
  spec: ScenarioSpec,
  target: Target,
  writer: EventWriter,
  components: Component[],
  log: (line: string) => void,
): Promise<ScenarioResult> {
  const [result] = await runSideBySide(spec, [target], writer, components, log);
  return result!;
}

/**
 * The same run against several servers at once, each with its own clients, fed by the same
 * events: every server's figures come from the same seconds of the same machine, so a change in
 * the machine's speed between runs (±10 % here) no longer counts as a difference between them.
 */
export async function runSideBySide(
  spec: ScenarioSpec,
  targets: Target[],
  writer: EventWriter,
  components: Component[],
  log: (line: string) => void,
): Promise<ScenarioResult[]> {
  const channels = Array.from({ length: spec.clients }, (_, i) => [spec.channelOf(i)]);
  const stages: Stage[] = [];
  try {
    for (const target of targets) stages.push(await connectClients(spec, target, channels, components, log));
    // Let handshake garbage be collected and timers settle before reading idle memory and CPU.
    const idleFrom = stages.map((stage) => cpuTime(stage.pid));
    await sleep(spec.idleSeconds * 1000);
    const rssIdleKb = stages.map((stage) => rssKb(stage.pid));
    const idleCpu = stages.map((stage, i) => cpuDelta(idleFrom[i]!, cpuTime(stage.pid)));

    const budgetFrom = nowMs();
    const befores = stages.map(read);
    log(`  writing ${spec.rate * spec.seconds} events at ${spec.rate}/s…`);
    for (const tap of new Set(targets.map((t) => t.tap))) tap?.reset();
    const write = await writer.run(spec.rate, spec.seconds);

    const perStream = new Map(write.streams.map((s, i) => [s, write.commits[i]!.length]));
    const expectedPer = channels.map(([channel]) => expectedFor(channel!, perStream, write.committed));
    const expected = expectedPer.reduce((a, b) => a + b, 0);
    const drainTimedOut = await drain(stages, expected);
    const budgetSeconds = (nowMs() - budgetFrom) / 1000;
    const afters = stages.map(read);
    const rssAfterRunKb = stages.map((stage) => rssKb(stage.pid));
    const results: ScenarioResult[] = [];
    for (const [i, stage] of stages.entries()) {
      const before = befores[i]!;
      const after = afters[i]!;
      const { results: collected, shares } = await stage.pool.collect({ streams: write.streams, firstSeq: write.firstSeq, commits: write.commits });
      const latencies = concat(collected.map((r) => r.latencies));
      const latencyMs = summarize(latencies);
      let clientsShort = 0;
      let uniqueTotal = 0;
      // Worker w holds clients w, w + W, w + 2W, … (ClientPool.connect's split).
      collected.forEach((result, w) => {
        result.unique.forEach((unique, j) => {
          uniqueTotal += unique;
          const client = w + j * collected.length;
          if (unique < (expectedPer[client] ?? 0)) clientsShort++;
        });
        if (result.unique.length !== shares[w]!.length) throw new Error('client worker returned a different number of clients');
      });
      const lastReceive = Math.max(...collected.map((r) => r.lastReceiveMs));
      const windowS = Math.max(0.001, (lastReceive - write.startedMs) / 1000);
      const cpu = cpuDelta(before.cpu, after.cpu);
      const closed: Record<string, number> = {};
      for (const r of collected) for (const [code, n] of Object.entries(r.closeCodes)) closed[code] = (closed[code] ?? 0) + n;
      const upstream = before.upstream && after.upstream ? cpuDelta(before.upstream, after.upstream) : undefined;
      results.push({
        label: spec.label,
        server: stage.target.name,
        clients: spec.clients,
        connected: stage.connect.ok,
        connectFailures: stage.connect.failed,
        connectErrors: stage.connect.errors,
        connectMs: stage.connect.ms,
        channels: spec.channelOf(0) === 'all' ? 'all' : 'match:<id>',
        rate: spec.rate,
        seconds: spec.seconds,
        committed: write.committed,
        achievedRate: write.achievedRate,
        writerIssueLagMaxMs: write.issueLagMaxMs,
        commitRoundTripMs: write.commitRoundTripMs,
        expected,
        delivered: uniqueTotal,
        deliveredRatio: expected === 0 ? 1 : uniqueTotal / expected,
        lost: Math.max(0, expected - uniqueTotal),
        clientsShort,
        duplicates: collected.reduce((n, r) => n + r.duplicates, 0),
        gaps: collected.reduce((n, r) => n + r.gaps, 0),
        unexpected: collected.reduce((n, r) => n + r.unexpected, 0),
        parseMismatches: collected.reduce((n, r) => n + r.parseMismatches, 0),
        closedDuringRun: closed,
        latencyMs,
        latencyCdfMs: cdf(latencies), // sorted by summarize above
        latencyRecorded: latencies.length,
        commitToRedisMs: stage.target.tap?.latency(write).latencyMs,
        deliveriesPerSecond: uniqueTotal / windowS,
        deliveryWindowS: windowS,
        drainTimedOut,
        serverCpu: { ...cpu, utilization: cpu.totalS / windowS },
        cpuPerDeliveryUs: uniqueTotal > 0 ? (cpu.totalS * 1e6) / uniqueTotal : NaN,
        startOrder: i + 1,
        kernelPerDelivery: kernelCountersPer(before.kernel, after.kernel, uniqueTotal),
        idleCpuMsPerS: (idleCpu[i]!.totalS * 1000) / spec.idleSeconds,
        upstreamCpuPerEventUs: upstream ? (upstream.totalS * 1e6) / write.committed : undefined,
        rssBeforeKb: stage.rssBeforeKb,
        rssIdleKb: rssIdleKb[i]!,
        rssPerConnectionKb: (rssIdleKb[i]! - stage.rssBeforeKb) / stage.connect.ok,
        rssAfterRunKb: rssAfterRunKb[i]!,
        coresUsed: CpuBudget.cores(before.budget, after.budget, budgetSeconds),
      });
    }
    return results;
  } finally {
    await Promise.all(stages.map((stage) => stage.pool.close()));
  }
}

/** Connects a server's clients (its RSS read first). */
async function connectClients(
  spec: ScenarioSpec,
  target: Target,
  channels: string[][],
  components: Component[],
  log: (line: string) => void,
): Promise<Stage> {
  const pid = target.service.pid;
  await sleep(500);
  const rssBeforeKb = rssKb(pid);
  const pool = new ClientPool(spec.workers);
  const budget = new CpuBudget([{ name: 'server', pids: () => [pid] }, ...components, { name: 'clients', pids: () => pool.pids() }]);
  let connect: ConnectResult;
  try {
    connect = await pool.connect(target.wsUrl, target.protocol, channels);
  } catch (error) {
    await pool.close();
    throw error;
  }
  log(`  ${target.name}: ${connect.ok}/${spec.clients} clients subscribed in ${connect.ms} ms${connect.failed ? ` (${connect.failed} failed: ${connect.errors.join('; ')})` : ''}`);
  if (connect.ok === 0) {
    await pool.close();
    throw new Error(`no client could connect to ${target.name}`);
  }
  return { target, pid, pool, budget, connect, rssBeforeKb };
}

/** Waits until every server's clients have all the events, or nothing more arrived for 3 s, or 60 s passed; true if it stopped waiting. */
async function drain(stages: Stage[], expected: number): Promise<boolean> {
  const delivered = stages.map(() => 0);
  let lastProgressAt = Date.now();
  const deadline = Date.now() + 60_000;
  for (;;) {
    const progress = await Promise.all(stages.map((stage) => stage.pool.progress()));
    progress.forEach((p, i) => {
      if (p.delivered > delivered[i]!) lastProgressAt = Date.now();
      delivered[i] = p.delivered;
    });
    if (delivered.every((n) => n >= expected)) return false;
    if (Date.now() - lastProgressAt > 3000 || Date.now() > deadline) return true;
    await sleep(50);
  }
}
