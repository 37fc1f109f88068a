import { ClientPool } from './clients/pool';
import { CpuBudget, type Component } from './cpu-budget';
import type { WireProtocol } from './clients/messages';
import type { Service } from './infra';
import { cpuDelta, cpuTime, kernelCounters, kernelCountersPer, rssKb, type KernelCounters } from './proc-stats';
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
  idleCpuPercent: number;
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
  const pid = target.service.pid;
  await sleep(500);
  const rssBeforeKb = rssKb(pid);
  const channels = Array.from({ length: spec.clients }, (_, i) => [spec.channelOf(i)]);
  const pool = new ClientPool(spec.workers);
  const budget = new CpuBudget([
    { name: 'server', pids: () => [pid] },
    ...components,
    { name: 'clients', pids: () => pool.pids() },
  ]);
  try {
    const connect = await pool.connect(target.wsUrl, target.protocol, channels);
    log(`  ${connect.ok}/${spec.clients} clients subscribed in ${connect.ms} ms${connect.failed ? ` (${connect.failed} failed: ${connect.errors.join('; ')})` : ''}`);
    if (connect.ok === 0) throw new Error(`no client could connect to ${target.name}`);
    // Let handshake garbage be collected and timers settle before reading idle memory and CPU.
    const idleCpuFrom = cpuTime(pid);
    await sleep(2000);
    const rssIdleKb = rssKb(pid);
    const idleCpu = cpuDelta(idleCpuFrom, cpuTime(pid));

    const budgetBefore = budget.read();
    const budgetFrom = nowMs();
    const cpuBefore = cpuTime(pid);
    const kernelBefore = kernelCounters(pid);
    const upstreamBefore = target.upstream ? cpuTime(target.upstream.pid) : undefined;
    log(`  writing ${spec.rate * spec.seconds} events at ${spec.rate}/s…`);
    target.tap?.reset();
    const write = await writer.run(spec.rate, spec.seconds);

    const perStream = new Map(write.streams.map((s, i) => [s, write.commits[i]!.length]));
    const expectedPer = channels.map(([channel]) => expectedFor(channel!, perStream, write.committed));
    const expected = expectedPer.reduce((a, b) => a + b, 0);
    // Wait for the deliveries: until all arrived, or nothing more for 3 s, or 60 s at most.
    let delivered = 0;
    let lastProgressAt = Date.now();
    let drainTimedOut = false;
    const drainDeadline = Date.now() + 60_000;
    for (;;) {
      const progress = await pool.progress();
      if (progress.delivered > delivered) lastProgressAt = Date.now();
      delivered = progress.delivered;
      if (delivered >= expected) break;
      if (Date.now() - lastProgressAt > 3000 || Date.now() > drainDeadline) {
        drainTimedOut = true;
        break;
      }
      await sleep(50);
    }
    const cpuAfter = cpuTime(pid);
    const kernelAfter = kernelCounters(pid);
    const budgetAfter = budget.read();
    const budgetSeconds = (nowMs() - budgetFrom) / 1000;
    const upstreamAfter = target.upstream ? cpuTime(target.upstream.pid) : undefined;
    const rssAfterRunKb = rssKb(pid);

    const { results, shares } = await pool.collect({ streams: write.streams, firstSeq: write.firstSeq, commits: write.commits });
    const latencies = concat(results.map((r) => r.latencies));
    const latencyMs = summarize(latencies);
    let clientsShort = 0;
    let uniqueTotal = 0;
    // Worker w holds clients w, w + W, w + 2W, … (ClientPool.connect's split).
    results.forEach((result, w) => {
      result.unique.forEach((unique, j) => {
        uniqueTotal += unique;
        const client = w + j * results.length;
        if (unique < (expectedPer[client] ?? 0)) clientsShort++;
      });
      if (result.unique.length !== shares[w]!.length) throw new Error('client worker returned a different number of clients');
    });
    const firstCommit = write.startedMs;
    const lastReceive = Math.max(...results.map((r) => r.lastReceiveMs));
    const windowS = Math.max(0.001, (lastReceive - firstCommit) / 1000);
    const cpu = cpuDelta(cpuBefore, cpuAfter);
    const closed: Record<string, number> = {};
    for (const r of results) for (const [code, n] of Object.entries(r.closeCodes)) closed[code] = (closed[code] ?? 0) + n;
    const idleSeconds = 2;
    const upstream = upstreamBefore && upstreamAfter ? cpuDelta(upstreamBefore, upstreamAfter) : undefined;

    return {
      label: spec.label,
      server: target.name,
      clients: spec.clients,
      connected: connect.ok,
      connectFailures: connect.failed,
      connectErrors: connect.errors,
      connectMs: connect.ms,
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
      duplicates: results.reduce((n, r) => n + r.duplicates, 0),
      gaps: results.reduce((n, r) => n + r.gaps, 0),
      unexpected: results.reduce((n, r) => n + r.unexpected, 0),
      parseMismatches: results.reduce((n, r) => n + r.parseMismatches, 0),
      closedDuringRun: closed,
      latencyMs,
      latencyCdfMs: cdf(latencies), // sorted by summarize above
      latencyRecorded: latencies.length,
      commitToRedisMs: target.tap?.latency(write).latencyMs,
      deliveriesPerSecond: uniqueTotal / windowS,
      deliveryWindowS: windowS,
      drainTimedOut,
      serverCpu: { ...cpu, utilization: cpu.totalS / windowS },
      cpuPerDeliveryUs: uniqueTotal > 0 ? (cpu.totalS * 1e6) / uniqueTotal : NaN,
      kernelPerDelivery: kernelCountersPer(kernelBefore, kernelAfter, uniqueTotal),
      idleCpuPercent: (idleCpu.totalS / idleSeconds) * 100,
      upstreamCpuPerEventUs: upstream ? (upstream.totalS * 1e6) / write.committed : undefined,
      rssBeforeKb,
      rssIdleKb,
      rssPerConnectionKb: (rssIdleKb - rssBeforeKb) / connect.ok,
      rssAfterRunKb,
      coresUsed: CpuBudget.cores(budgetBefore, budgetAfter, budgetSeconds),
    };
  } finally {
    await pool.close();
  }
}
