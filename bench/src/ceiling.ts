/**
 * `make bench-ceiling`: the highest commit rate the whole NOTIFY path sustains (docs/benchmarks.md,
 * "NOTIFY path ceiling"), and what the outbox trigger costs Postgres per commit.
 *
 * 1. Ceiling: notify-listener + one Redis-mode gateway, --clients clients each on one match
 *    channel; --writers connections write the usual events (score / clock UPDATEs over --matches
 *    matches) at a fixed rate, raised by --step from --start until commit→client p99 passes
 *    --p99-ms, fewer than 97 % of the scheduled commits made it, or an event went missing.
 * 2. Cost: the same writes at the highest sustained rate (no clients), alternately with the
 *    tables' triggers as migrated and with them disabled (no snapshot, seq counter, outbox row or
 *    NOTIFY): Postgres CPU per commit in each, and the difference — the trigger's cost.
 * 3. The NOTIFY-cost comparison (notify-cost.ts) with --cost-writers closed-loop writers.
 * The database also holds --streams counter rows of other streams (users' notification streams,
 * purchases, leagues), as a deployment does: what an event costs must not grow with them.
 * Every figure is printed with the machine's load average, read when it was measured.
 *
 * Options: --writers 32 --matches 64 --clients 100 --start 2000 --step 2000 --max 20000
 *          --seconds 5 --p99-ms 50 --cost-seconds 4 --cost-writers 4 --streams 10000 --out <dir>
 */
import { mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseFlags, positiveInt } from './args';
import { cleanupAll, installExitHandlers } from './cleanup';
import { CpuBudget, postmasterPid, type Component } from './cpu-budget';
import { Infra, ROOT, type Service } from './infra';
import { measureNotifyCost } from './notify-cost';
import { writeResults } from './report';
import { runScenario } from './scenario';
import { startGateway, startListener } from './servers';
import { EventWriter } from './writer';

/** The tables the bench writes (writer.ts): their user triggers are switched off for the baseline. */
const WRITTEN_TABLES = ['scoreboard', 'gameclock'];
/** A step is sustained when at least this share of its scheduled commits was made on time. */
const SUSTAINED_SHARE = 0.97;

interface Options {
  writers: number;
  matches: number;
  clients: number;
  start: number;
  step: number;
  max: number;
  seconds: number;
  p99Ms: number;
  costSeconds: number;
  costWriters: number;
  streams: number;
  outDir: string;
}

interface Step {
  rate: number;
  achievedRate: number;
  p50Ms: number;
  p99Ms: number;
  deliveredRatio: number;
  postgresCores: number;
  gatewayCores: number;
  listenerCores: number;
  load1: number;
  sustained: boolean;
}

interface TriggerCost {
  rate: number;
  /** Postgres CPU (all backends) per commit, µs. */
  withTriggerUs: number;
  withoutTriggerUs: number;
  triggerCostUs: number;
  load1: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { writers: 32, matches: 64, clients: 100, start: 2000, step: 2000, max: 20_000, seconds: 5, p99Ms: 50, costSeconds: 4, costWriters: 4, streams: 10_000, outDir: join(ROOT, 'bench', 'results') };
  const ints: Record<string, keyof Omit<Options, 'outDir'>> = {
    '--writers': 'writers', '--matches': 'matches', '--clients': 'clients', '--start': 'start', '--step': 'step',
    '--max': 'max', '--seconds': 'seconds', '--p99-ms': 'p99Ms', '--cost-seconds': 'costSeconds', '--cost-writers': 'costWriters',
    '--streams': 'streams',
  };
  parseFlags(argv, (flag, value) => {
    const key = ints[flag];
    if (key) o[key] = positiveInt(flag, value());
    else if (flag === '--out') o.outDir = value();
    else return false;
    return true;
  });
  if (o.writers > o.matches) throw new Error('--writers: at most --matches (each match belongs to one writer connection)');
  return o;
}

const log = (line: string) => console.log(line);
const load1 = () => loadavg()[0] ?? NaN;
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  installExitHandlers(30 * 60_000);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const logDir = join(o.outDir, `${stamp}-ceiling-logs`);
  mkdirSync(logDir, { recursive: true });
  log(`matchcast NOTIFY path ceiling: ${o.writers} writers over ${o.matches} matches (${fmt(o.streams)} other streams), ${o.clients} clients, ${o.start}/s +${o.step}/s steps of ${o.seconds} s until p99 > ${o.p99Ms} ms`);

  const infra = await new Infra().start();
  const matchIds = await infra.seed(o.matches);
  await infra.db.query(`INSERT INTO stream_counter (stream, last_seq) SELECT 'user:bench-' || g, 1 FROM generate_series(1, $1::int) g`, [o.streams]);
  await infra.db.query('ANALYZE stream_counter');
  const writer = new EventWriter(infra.postgres.url, matchIds, o.writers);
  await writer.open();
  let listener: Service | undefined = (await startListener(infra, logDir)).service;
  const gateway = await startGateway(infra, 'redis', logDir, { maxConnections: o.clients + 1000 });
  const pgPid = postmasterPid(infra.postgres.dataDir);
  const postgres: Component = { name: 'postgres', pids: () => [pgPid], withChildren: true };
  const components: Component[] = [postgres, { name: 'listener', pids: () => (listener ? [listener.pid] : []) }];
  const target = { name: 'gateway (redis)', service: gateway.service, wsUrl: `ws://127.0.0.1:${gateway.port}/ws`, protocol: 'matchcast' as const, upstream: listener };

  const steps: Step[] = [];
  for (let rate = o.start; rate <= o.max; rate += o.step) {
    const spec = { label: `ceiling-${rate}`, clients: o.clients, channelOf: (i: number) => `match:${matchIds[i % matchIds.length]}`, rate, seconds: o.seconds, workers: 2, idleSeconds: 2 };
    const r = await runScenario(spec, target, writer, components, () => undefined);
    const step: Step = {
      rate,
      achievedRate: r.achievedRate,
      p50Ms: r.latencyMs?.p50 ?? NaN,
      p99Ms: r.latencyMs?.p99 ?? NaN,
      deliveredRatio: r.deliveredRatio,
      postgresCores: r.coresUsed.postgres ?? NaN,
      gatewayCores: r.coresUsed.server ?? NaN,
      listenerCores: r.coresUsed.listener ?? NaN,
      load1: load1(),
      sustained: r.achievedRate >= rate * SUSTAINED_SHARE && r.deliveredRatio === 1 && (r.latencyMs?.p99 ?? Infinity) <= o.p99Ms,
    };
    steps.push(step);
    log(`  ${fmt(rate)}/s: achieved ${fmt(step.achievedRate)}/s, p50 ${fmt(step.p50Ms, 1)} ms, p99 ${fmt(step.p99Ms, 1)} ms, ${fmt(step.deliveredRatio * 100, 2)}% delivered; cores: postgres ${fmt(step.postgresCores, 2)}, gateway ${fmt(step.gatewayCores, 2)}, listener ${fmt(step.listenerCores, 2)}; load ${fmt(step.load1, 1)}${step.sustained ? '' : '  ✗'}`);
    if (!step.sustained) break;
  }
  const best = [...steps].reverse().find((s) => s.sustained);
  log(best ? `ceiling: ${fmt(best.rate)} commits/s sustained at p99 ${fmt(best.p99Ms, 1)} ms (postgres ${fmt(best.postgresCores, 2)} cores, gateway ${fmt(best.gatewayCores, 2)})` : `ceiling: not even ${o.start}/s was sustained`);

  await gateway.service.stop();
  const cost = await measureTriggerCost(infra, writer, postgres, best?.rate ?? o.start, o.seconds);
  log(`trigger cost at ${fmt(cost.rate)} commits/s: postgres CPU ${fmt(cost.withTriggerUs, 1)} µs/commit with the outbox trigger, ${fmt(cost.withoutTriggerUs, 1)} without → ${fmt(cost.triggerCostUs, 1)} µs per commit (load ${fmt(cost.load1, 1)})`);

  await writer.close();
  await listener.stop();
  listener = undefined;
  const [closedLoop] = await measureNotifyCost(infra.postgres.url, matchIds, [o.costWriters], o.costSeconds);
  const closedLoopLoad = load1();
  const c = closedLoop!.commitsPerSecond;
  const ofBare = (rate: number) => `${fmt((rate / c['no-trigger']) * 100)}% of bare`;
  log(`closed loop, ${o.costWriters} writers: bare UPDATE ${fmt(c['no-trigger'])}/s, trigger without NOTIFY ${fmt(c['no-notify'])}/s, with NOTIFY ${fmt(c.notify)}/s = ${ofBare(c.notify)} (unsigned ${fmt(c.unsigned)}/s = ${ofBare(c.unsigned)}); the floor of any outbox trigger ${fmt(c.floor)}/s = ${ofBare(c.floor)} (load ${fmt(closedLoopLoad, 1)})`);

  const file = writeResults(o.outDir, `${stamp}-ceiling`, {
    command: `node bench/dist/ceiling.js ${process.argv.slice(2).join(' ')}`.trim(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version },
    options: o,
    steps,
    ceiling: best ?? null,
    triggerCost: cost,
    closedLoop: { ...closedLoop, load1: closedLoopLoad, notifyShareOfBare: c.notify / c['no-trigger'], floorShareOfBare: c.floor / c['no-trigger'] },
  });
  log(`results: ${file}`);
}

/**
 * Postgres CPU per commit for the same fixed-rate writes with the written tables' triggers on
 * and off, in two alternating rounds each so drift hits both alike. Triggers end up enabled.
 */
async function measureTriggerCost(infra: Infra, writer: EventWriter, postgres: Component, rate: number, seconds: number): Promise<TriggerCost> {
  const budget = new CpuBudget([postgres]);
  const totals = { on: { cpuS: 0, commits: 0 }, off: { cpuS: 0, commits: 0 } };
  const setTriggers = (on: boolean) => infra.db.query(WRITTEN_TABLES.map((t) => `ALTER TABLE ${t} ${on ? 'ENABLE' : 'DISABLE'} TRIGGER USER`).join('; '));
  try {
    for (let round = 0; round < 2; round++) {
      for (const condition of ['on', 'off'] as const) {
        await setTriggers(condition === 'on');
        const before = budget.read();
        const write = await writer.run(rate, seconds, condition === 'on');
        const after = budget.read();
        totals[condition].cpuS += (after.postgres ?? 0) - (before.postgres ?? 0);
        totals[condition].commits += write.committed;
      }
    }
  } finally {
    await setTriggers(true);
  }
  const us = (t: { cpuS: number; commits: number }) => (t.cpuS * 1e6) / t.commits;
  return { rate, withTriggerUs: us(totals.on), withoutTriggerUs: us(totals.off), triggerCostUs: us(totals.on) - us(totals.off), load1: load1() };
}

main()
  .then(() => cleanupAll())
  .then(() => process.exit(0))
  .catch(async (error: unknown) => {
    console.error(`bench-ceiling failed: ${(error as Error).stack ?? String(error)}`);
    await cleanupAll();
    process.exit(1);
  });
