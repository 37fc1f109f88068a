import pg from 'pg';
import type { BrokerMode, Cluster } from './cluster';
import { RecordingClient, type RecordedMessage } from './recorder';
import type { Scenario, Step } from './scenarios';
import { timingsFromLogs, type GatewayTimeline, type ModeChange } from './timings';
import { countDeliveries, expectedKeys, maxOutboxId, outboxWindow, type DeliveryCount } from './verify';
import { ProbeWriter } from './probe';
import { clientChannelSets } from './workload';

export interface RunOptions {
  /** Time with clients connected and events flowing before the fault. Default 1500. */
  warmupMs?: number;
  /** How long clients may take to receive every event of the window at the end. Default 30000. */
  deliveryTimeoutMs?: number;
  /** How long to wait for every gateway to be in Redis mode before starting. Default 30000. */
  steadyTimeoutMs?: number;
  /** /readyz polling period for the mode timeline. Default 50. */
  pollIntervalMs?: number;
  /**
   * Write the scenarios' probe events on a match of the runner's own ('chaos-probe'), and
   * subscribe one more client to it. Default true; off, 'probe' steps do nothing.
   */
  probe?: boolean;
  /** Progress lines (the CLI prints them; tests pass nothing). */
  progress?: (line: string) => void;
}

export interface ClientReport extends DeliveryCount {
  url: string;
  channels: string[];
  connects: number;
  errors: string[];
  /** Everything the client received (for independent checks; not printed). */
  messages: RecordedMessage[];
}

export interface ScenarioReport {
  scenario: string;
  title: string;
  cluster: string;
  ok: boolean;
  failures: string[];
  startedAt: string;
  durationMs: number;
  /** Fault → repair: how long the broken part was away (null without both marks). */
  outageMs: number | null;
  /** Fault → slowest gateway's "Switching to PostgreSQL direct LISTEN fallback mode" (from its log). */
  fallbackMs: number | null;
  /** Fault → slowest gateway's "Fallback to PostgreSQL direct LISTEN successful" (catch-up done). */
  fallbackDeliveringMs: number | null;
  /** Repair (Redis answering again; the fault when there is no repair step) → "Switch back to Redis mode successful". */
  switchBackMs: number | null;
  /** Fault → a standby writes "leader lock acquired". */
  leaderTakeoverMs: number | null;
  /** The same two times as seen by polling /readyz every pollIntervalMs (a cross-check). */
  polled: { fallbackMs: number | null; switchBackMs: number | null };
  /** The outbox id window counted: afterId < id ≤ uptoId. */
  window: { afterId: string; uptoId: string };
  /** Outbox rows committed during the run. */
  events: number;
  deliveriesExpected: number;
  deliveriesReceived: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  reconnects: number;
  clients: ClientReport[];
  gateways: GatewayTimeline[];
  modeChanges: ModeChange[];
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Retries a database call across a Postgres restart. */
async function withRetry<T>(what: string, call: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what} failed for ${timeoutMs} ms`, { cause: error });
      await sleep(250);
    }
  }
}

/** Polls every gateway's mode and records each change with its time. */
class ModePoller {
  readonly changes: ModeChange[] = [];
  private readonly current = new Map<string, BrokerMode | undefined>();
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly cluster: Cluster,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const started = Date.now();
        try {
          for (const state of await this.cluster.gatewayStates()) {
            const before = this.current.get(state.name);
            if (!this.current.has(state.name) || before !== state.mode) {
              if (this.current.has(state.name)) {
                this.changes.push({ gateway: state.name, at: started, from: before, to: state.mode });
              }
              this.current.set(state.name, state.mode);
            }
          }
        } catch {
          // an observer hiccup is not a result; try again next tick
        }
        await sleep(Math.max(0, this.intervalMs - (Date.now() - started)));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** Slowest gateway's first change to `to` at or after `from` (ms after `base`). */
  slowest(to: BrokerMode, from: number, base: number): number | null {
    const firstPer = new Map<string, number>();
    for (const change of this.changes) {
      if (change.to === to && change.at >= from && !firstPer.has(change.gateway)) firstPer.set(change.gateway, change.at);
    }
    return firstPer.size === 0 ? null : Math.max(...[...firstPer.values()].map((at) => at - base));
  }
}

async function awaitMode(cluster: Cluster, mode: BrokerMode, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const states = await cluster.gatewayStates();
      last = states.map((s) => `${s.name}=${s.mode ?? 'unreachable'}`).join(', ');
      if (states.length > 0 && states.every((s) => s.mode === mode)) return;
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`gateways not all in ${mode} mode after ${timeoutMs} ms (${last})`);
    await sleep(50);
  }
}

async function runStep(cluster: Cluster, step: Step, probe: ProbeWriter | undefined): Promise<void> {
  switch (step.do) {
    case 'killRedis':
      return cluster.killRedis();
    case 'stopRedis':
      return cluster.stopRedis();
    case 'startRedis':
      return cluster.startRedis();
    case 'freezeRedis':
      return cluster.freezeRedis(step.forMs);
    case 'resumeRedis':
      return cluster.resumeRedis();
    case 'killListenerLeader':
      await cluster.killListenerLeader();
      return;
    case 'stopListenerLeader':
      await cluster.stopListenerLeader();
      return;
    case 'restoreListeners':
      return cluster.restoreListeners();
    case 'restartPostgres':
      return cluster.restartPostgres();
    case 'stopGateway':
      return cluster.stopGateway(step.gateway);
    case 'startGateway':
      return cluster.startGateway(step.gateway);
    case 'probe':
      if (probe) await withRetry('writing the probe event', () => probe.write());
      return;
    case 'sleep':
      return sleep(step.ms);
    case 'awaitMode':
      return awaitMode(cluster, step.mode, step.timeoutMs);
  }
}

function describe(step: Step): string {
  const { do: action, ...rest } = step as Step & Record<string, unknown>;
  const args = Object.entries(rest)
    .filter(([key]) => key !== 'mark')
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(' ');
  return args ? `${action} ${args}` : action;
}

/**
 * Runs one scenario: clients subscribe to many streams, the steps inject the fault and undo
 * it, then every client's deliveries are counted against the outbox (0 lost, 0 duplicated,
 * order kept) and the fallback and recovery times are read from the gateways' logs.
 */
export async function runScenario(cluster: Cluster, scenario: Scenario, options: RunOptions = {}): Promise<ScenarioReport> {
  const warmupMs = options.warmupMs ?? 1500;
  const progress = options.progress ?? (() => undefined);
  const failures: string[] = [];
  const db = new pg.Pool({ connectionString: cluster.databaseUrl, max: 2, application_name: 'matchcast-chaos' });
  db.on('error', () => undefined); // idle connections die with a Postgres restart; queries retry
  const startedAt = Date.now();
  const poller = new ModePoller(cluster, options.pollIntervalMs ?? 50);
  const clients: RecordingClient[] = [];
  const marks: { fault?: number; repair?: number } = {};
  try {
    progress(`[${scenario.name}] waiting for every gateway to be in redis mode`);
    await awaitMode(cluster, 'redis', options.steadyTimeoutMs ?? 30_000);
    const probe = options.probe === false ? undefined : new ProbeWriter(db);
    if (probe) await withRetry('creating the probe match', () => probe.setup());
    const sets = await withRetry('reading channels', () => clientChannelSets(db, probe ? [probe.matchId] : []));
    if (probe) sets.push([probe.channel]);
    const urls = cluster.clientUrls();
    sets.forEach((channels, i) => clients.push(new RecordingClient(urls[i % urls.length]!, channels)));
    await Promise.all(clients.map((client) => client.connect()));
    const before = await withRetry('reading the outbox head', () => maxOutboxId(db));
    progress(`[${scenario.name}] ${clients.length} clients subscribed; warming up ${warmupMs} ms`);
    await sleep(warmupMs);
    poller.start();

    for (const step of scenario.steps) {
      progress(`[${scenario.name}] ${describe(step)}`);
      const at = Date.now();
      try {
        await runStep(cluster, step, probe);
      } catch (error) {
        failures.push(`step ${describe(step)}: ${(error as Error).message}`);
        progress(`[${scenario.name}] step failed: ${(error as Error).message}`);
      }
      const mark = 'mark' in step ? step.mark : undefined;
      if (mark === 'fault' || mark === 'outage') marks.fault ??= at;
      if (mark === 'repair' || mark === 'outage') marks.repair = Date.now();
    }

    const after = await withRetry('reading the outbox head', () => maxOutboxId(db));
    const rows = await withRetry('reading the outbox', () => outboxWindow(db, before, after));
    const expected = clients.map((client) => expectedKeys(rows, client.channels));
    progress(`[${scenario.name}] ${rows.length} events written; waiting for every client to have them`);
    const deadline = Date.now() + (options.deliveryTimeoutMs ?? 30_000);
    while (Date.now() < deadline && clients.some((client, i) => countDeliveries(expected[i]!, client.messages).lost > 0)) {
      await sleep(100);
    }
    await sleep(300); // late duplicates would show up here
    await poller.stop();
    for (const client of clients) client.close();

    const counts = clients.map((client, i) => countDeliveries(expected[i]!, client.messages));
    const clientReports: ClientReport[] = clients.map((client, i) => ({
      url: client.url,
      channels: client.channels,
      ...counts[i]!,
      connects: client.connects,
      errors: client.errors().map((m) => m.code ?? 'unknown'),
      messages: client.messages,
    }));
    const sum = (pick: (c: DeliveryCount) => number) => counts.reduce((total, c) => total + pick(c), 0);

    const faultAt = marks.fault ?? startedAt;
    const [gatewayLogs, listenerLogs] = await Promise.all([
      cluster.logs('gateway', startedAt).catch(() => []),
      cluster.logs('notify-listener', startedAt).catch(() => []),
    ]);
    const timings = timingsFromLogs(gatewayLogs, listenerLogs, faultAt, marks.repair);
    const polledFallback = poller.slowest('postgres', faultAt, faultAt);
    const polledBack =
      polledFallback === null ? null : poller.slowest('redis', faultAt + polledFallback, marks.repair ?? faultAt);

    const report: ScenarioReport = {
      scenario: scenario.name,
      title: scenario.title,
      cluster: cluster.kind,
      ok: false,
      failures,
      startedAt: new Date(startedAt).toISOString(),
      durationMs: Date.now() - startedAt,
      outageMs: marks.fault !== undefined && marks.repair !== undefined ? marks.repair - marks.fault : null,
      fallbackMs: timings.fallbackMs,
      fallbackDeliveringMs: timings.fallbackDeliveringMs,
      switchBackMs: timings.switchBackMs,
      leaderTakeoverMs: timings.leaderTakeoverMs,
      polled: { fallbackMs: polledFallback, switchBackMs: polledBack === null ? null : Math.max(0, polledBack) },
      window: { afterId: before, uptoId: after },
      events: rows.length,
      deliveriesExpected: sum((c) => c.expected),
      deliveriesReceived: sum((c) => c.received),
      lost: sum((c) => c.lost),
      duplicated: sum((c) => c.duplicated),
      outOfOrder: sum((c) => c.outOfOrder),
      reconnects: clients.reduce((total, client) => total + client.connects - 1, 0),
      clients: clientReports,
      gateways: timings.gateways,
      modeChanges: poller.changes,
    };
    judge(scenario, report);
    return report;
  } finally {
    await poller.stop();
    for (const client of clients) client.close();
    await db.end().catch(() => undefined);
  }
}

/** Adds every broken promise to `failures` and sets `ok`. */
function judge(scenario: Scenario, report: ScenarioReport): void {
  const { failures } = report;
  if (report.events === 0) failures.push('no events were written during the run (is the crawler running?)');
  if (report.deliveriesExpected === 0) failures.push('no client had anything to receive');
  if (report.lost > 0) failures.push(`${report.lost} deliveries lost`);
  if (report.duplicated > 0) failures.push(`${report.duplicated} deliveries duplicated`);
  if (report.outOfOrder > 0) failures.push(`${report.outOfOrder} deliveries out of order`);
  const errors = report.clients.flatMap((client) => client.errors);
  if (errors.length > 0) failures.push(`clients got error messages: ${[...new Set(errors)].join(', ')}`);
  const fellBack = report.fallbackMs !== null;
  if (scenario.fallback === 'required' && !fellBack) failures.push('the gateways never logged the fallback to PostgreSQL');
  if (scenario.fallback === 'forbidden' && fellBack) failures.push('a gateway fell back to PostgreSQL although Redis was fine');
  if (fellBack) {
    const everyGatewayBack = report.gateways.every((g) => g.fallbackMs === null || g.switchBackMs !== null);
    if (!everyGatewayBack) failures.push('a gateway never logged the switch back to Redis');
    const { fallbackMs, switchBackMs } = scenario.limits;
    if (fallbackMs !== null && report.fallbackMs! > fallbackMs) {
      failures.push(`fallback took ${report.fallbackMs} ms (limit ${fallbackMs} ms)`);
    }
    if (switchBackMs !== null && report.switchBackMs !== null && report.switchBackMs > switchBackMs) {
      failures.push(`switch back took ${report.switchBackMs} ms (limit ${switchBackMs} ms)`);
    }
  }
  report.ok = failures.length === 0;
}
