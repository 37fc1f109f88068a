/**
 * `make bench-storm`: a reconnect storm (issue 13). N WebSocket clients on the five kinds of
 * channel (`all`, `live:all`, the league, a team, a match) are spread over two gateways while
 * the writer commits events; one gateway is SIGKILLed and its clients reconnect to the other
 * at once (each after @matchcast/client's jittered delay), resuming with `resume` (every
 * stream seen) and `since`. Reported: the time from the kill until each of them is resumed
 * (the server's `resumed`: every replay done), the queries Postgres ran and the CPU it used
 * meanwhile (against the same figures just before the kill), how the resumes were answered
 * (memory or outbox), and every client's deliveries against what was written: loss and
 * duplicates must be 0.
 *
 * Options: --clients 10000  --matches 50  --rate 20  --warm-seconds 6  --after-seconds 15
 *          --workers N (client processes per gateway)  --out <dir>
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { cleanupAll, installExitHandlers } from './cleanup';
import { ClientPool } from './clients/pool';
import { CpuBudget, postmasterPid, type Component } from './cpu-budget';
import { Infra, ROOT } from './infra';
import { lineChart } from './plot';
import { writeResults, writeSvg } from './report';
import { startGateway, startListener } from './servers';
import { cdf, concat, nowMs, sleep, summarize, type LatencySummary } from './stats';
import { EventWriter } from './writer';

interface Options {
  clients: number;
  matches: number;
  rate: number;
  warmSeconds: number;
  afterSeconds: number;
  workers: number | undefined;
  outDir: string;
}

const RESUME_TARGET_P99_MS = 3000;
/** The gateway's `since` margin for long transactions (sessions/session.ts). */
const SINCE_MARGIN_MS = 5000;
const STORM_TIMEOUT_MS = 90_000;

function parseArgs(argv: string[]): Options {
  const options: Options = { clients: 10_000, matches: 50, rate: 20, warmSeconds: 6, afterSeconds: 15, workers: undefined, outDir: join(ROOT, 'bench', 'results') };
  const bounded = { clients: [2, 19_000], matches: [1, 100], rate: [1, 2000], warmSeconds: [2, 300], afterSeconds: [5, 600], workers: [1, 8] } as const;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = argv[++i];
    if (arg === '--out' && value !== undefined) {
      options.outDir = value;
      continue;
    }
    const key = arg.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) as keyof typeof bounded;
    if (!(key in bounded)) throw new Error(`unknown option ${arg} (--clients --matches --rate --warm-seconds --after-seconds --workers --out)`);
    const n = Number(value);
    const [min, max] = bounded[key];
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new Error(`${arg} needs an integer in [${min}, ${max}], got "${value}"`);
    options[key] = n;
  }
  return options;
}

/** Client i's channel: the five kinds in turn; teams and matches spread over the seeded ones. */
function channelOf(i: number, matches: number): string {
  const k = Math.floor(i / 5);
  return ['all', 'live:all', 'league:bench', `team:t${(k % (2 * matches)) + 1}`, `match:m${(k % matches) + 1}`][i % 5]!;
}

/** The match streams a channel carries (the seed: match m<n> is between teams t<2n-1> and t<2n>). */
function streamsOf(channel: string, streams: string[]): string[] {
  if (channel.startsWith('team:')) return [`match:m${Math.ceil(Number(channel.slice(6)) / 2)}`];
  if (channel.startsWith('match:')) return [channel];
  return streams;
}

/**
 * Statements Postgres ran (pg_stat_statements), by kind: what resumes can cost (outbox and
 * stream_counter reads, league access reads) apart from the writer's UPDATEs, the gateways'
 * delivery canary and the rest (health checks, LISTEN, the pruner).
 */
async function statements(db: pg.Client): Promise<Record<string, number>> {
  const { rows } = await db.query<{ kind: string; calls: string }>(
    `SELECT CASE WHEN query LIKE 'UPDATE scoreboard%' OR query LIKE 'UPDATE gameclock%' THEN 'writer'
                 WHEN query LIKE '%matchcast_canary%' THEN 'canary'
                 WHEN query LIKE '%FROM outbox%' THEN 'outbox'
                 WHEN query LIKE '%FROM stream_counter%' THEN 'stream_counter'
                 WHEN query LIKE '%league_member%' THEN 'league_access'
                 ELSE 'other' END AS kind, sum(calls)::text AS calls
       FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_%' GROUP BY 1`,
  );
  const out: Record<string, number> = { writer: 0, canary: 0, outbox: 0, stream_counter: 0, league_access: 0, other: 0 };
  for (const row of rows) out[row.kind] = Number(row.calls);
  const xacts = await db.query<{ commits: string }>(`SELECT xact_commit::text AS commits FROM pg_stat_database WHERE datname = current_database()`);
  out.transactions = Number(xacts.rows[0]?.commits ?? 0);
  return out;
}

/** TcpExtListenOverflows of this network namespace: SYNs dropped because an accept queue was full. */
function listenOverflows(): number {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n').filter((line) => line.startsWith('TcpExt:'));
  const names = lines[0]?.split(/\s+/) ?? [];
  const values = lines[1]?.split(/\s+/) ?? [];
  return Number(values[names.indexOf('ListenOverflows')] ?? NaN);
}

/** The series of a gateway metric, summed per label set (`source="memory"` …) from its /metrics page. */
async function metricSeries(port: number, name: string): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const labels = line.slice(name.length + 1, line.lastIndexOf('}')).replace(/,?service="[^"]*"/, '');
    out[labels] = Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return out;
}

const delta = (after: Record<string, number>, before: Record<string, number>) =>
  Object.fromEntries(Object.entries(after).map(([key, value]) => [key, value - (before[key] ?? 0)]));
const ms = (summary: LatencySummary | undefined, key: 'p50' | 'p99' | 'max') => (summary ? `${Math.round(summary[key])} ms` : '–');

async function redisPid(url: string): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true });
  try {
    await redis.connect();
    return Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]);
  } finally {
    redis.disconnect();
  }
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  installExitHandlers(15 * 60_000);
  const log = (line: string) => console.log(line);
  const stamp = `storm-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const logDir = join(options.outDir, `${stamp}-logs`);
  mkdirSync(logDir, { recursive: true });
  const command = `node bench/dist/storm.js ${process.argv.slice(2).join(' ')}`.trim();
  log(`matchcast reconnect storm: ${options.clients} clients on two gateways, ${options.matches} matches, ${options.rate} events/s; logs ${logDir}`);

  const infra = await new Infra({ shared_preload_libraries: 'pg_stat_statements' }).start();
  await infra.db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  const matchIds = await infra.seed(options.matches);
  const streams = matchIds.map((id) => `match:${id}`);
  const writer = new EventWriter(infra.postgres.url, matchIds, 2);
  await writer.open();

  const listener = (await startListener(infra, logDir)).service;
  const gateways = await Promise.all(
    ['gateway-killed', 'gateway-survivor'].map(async (name) => {
      const started = await startGateway(infra, 'redis', logDir, { name, maxConnections: options.clients + 1000 });
      return { ...started, url: `ws://127.0.0.1:${started.port}/ws` };
    }),
  );
  const [killed, survivor] = gateways as [(typeof gateways)[0], (typeof gateways)[0]];
  // A gateway answers `since` from memory only back to its own start (plus the 5 s margin): let them
  // run that long first, as gateways in service have, so that clients' `since` falls after it.
  await sleep(SINCE_MARGIN_MS + 1500);

  // Even clients on the gateway that will be killed (they fall back to the other), odd ones on the survivor.
  const channels = Array.from({ length: options.clients }, (_, i) => [channelOf(i, options.matches)]);
  const onKilled = channels.filter((_, i) => i % 2 === 0);
  const onSurvivor = channels.filter((_, i) => i % 2 === 1);
  const workersFor = (count: number) => options.workers ?? Math.max(1, Math.ceil(count / 4000));
  const stormPool = new ClientPool(workersFor(onKilled.length));
  const calmPool = new ClientPool(workersFor(onSurvivor.length));
  const connected = await Promise.all([stormPool.connect(killed.url, 'matchcast', onKilled, survivor.url), calmPool.connect(survivor.url, 'matchcast', onSurvivor)]);
  for (const result of connected) if (result.failed > 0) throw new Error(`${result.failed} clients failed to connect: ${result.errors.join('; ')}`);
  log(`connected ${options.clients} clients in ${Math.max(...connected.map((c) => c.ms))} ms (${onKilled.length} on the gateway to be killed)`);

  const heads = await infra.db.query<{ stream: string; last_seq: number }>('SELECT stream, last_seq::int AS last_seq FROM stream_counter WHERE stream = ANY($1)', [streams]);
  const firstSeq = streams.map((stream) => (heads.rows.find((row) => row.stream === stream)?.last_seq ?? 0) + 1);
  await Promise.all([stormPool.baseline(streams, firstSeq), calmPool.baseline(streams, firstSeq)]);

  const redisPidValue = await redisPid(infra.redis.url);
  const budget = new CpuBudget([
    { name: 'postgres', pids: () => [postmasterPid(infra.postgres.dataDir)], withChildren: true },
    { name: 'gateway (survivor)', pids: () => [survivor.service.pid] },
    { name: 'listener + redis', pids: () => [listener.pid, redisPidValue] },
    { name: 'clients', pids: () => [...stormPool.pids(), ...calmPool.pids()] },
  ] satisfies Component[]);
  const resumeSeries = () => metricSeries(survivor.opsPort, 'matchcast_gateway_resume_source_total');
  const outboxSeries = () => metricSeries(survivor.opsPort, 'matchcast_gateway_outbox_reads_total');

  const writing = writer.run(options.rate, options.warmSeconds + options.afterSeconds);
  await sleep(1000);
  const calm = { at: nowMs(), cpu: budget.read(), queries: await statements(infra.db) };
  await sleep((options.warmSeconds - 1) * 1000);
  const before = { at: nowMs(), cpu: budget.read(), queries: await statements(infra.db), overflows: listenOverflows(), resume: await resumeSeries(), outbox: await outboxSeries() };

  log(`SIGKILL ${killed.service.name} (${onKilled.length} clients)`);
  const killedAt = nowMs();
  killed.service.child!.process.kill('SIGKILL');
  let reconnects = await stormPool.reconnects();
  const pending = () => reconnects.resumedAt.filter((at) => Number.isNaN(at)).length;
  while (pending() > 0 && nowMs() - killedAt < STORM_TIMEOUT_MS) {
    await sleep(100);
    reconnects = await stormPool.reconnects();
  }
  const resumedAll = nowMs();
  const after = { at: resumedAll, cpu: budget.read(), queries: await statements(infra.db), overflows: listenOverflows(), resume: await resumeSeries(), outbox: await outboxSeries() };
  const notResumed = pending();

  const written = await writing;
  await sleep(3000); // the last events reach every client
  // The survivor's own clients' live latency: events committed before the kill, and during the storm.
  const windowsMs: [number, number][] = [[calm.at, killedAt], [killedAt, resumedAll]];
  const collected = await Promise.all([stormPool, calmPool].map((pool) => pool.collect({ streams: written.streams, firstSeq: written.firstSeq, commits: written.commits, windowsMs })));
  const calmLatency = (window: number) => summarize(concat(collected[1]!.results.map((r) => r.windowLatencies[window]!)));
  const perStream = new Map(written.streams.map((stream, i) => [stream, written.commits[i]!.length]));
  const expectedOf = (channel: string) => streamsOf(channel, streams).reduce((n, stream) => n + (perStream.get(stream) ?? 0), 0);
  let expected = 0;
  let delivered = 0;
  let lost = 0;
  let clientsShort = 0;
  // A client of the killed gateway still reconnecting when the wait ended is counted as not resumed, not as loss.
  const gaveUp = (pool: number, index: number) => pool === 0 && Number.isNaN(reconnects.resumedAt[index]!);
  for (const [pool, { results, shares }] of collected.entries()) {
    let index = 0;
    results.forEach((result, w) => {
      shares[w]!.forEach((clientChannels, c) => {
        if (gaveUp(pool, index++)) return;
        const want = expectedOf(clientChannels[0]!);
        const got = result.unique[c]!;
        expected += want;
        delivered += got;
        if (got < want) {
          lost += want - got;
          clientsShort++;
        }
      });
    });
  }
  const all = collected.flatMap((c) => c.results);
  const sum = (key: 'duplicates' | 'gaps' | 'missed' | 'early' | 'unexpected') => all.reduce((n, r) => n + r[key], 0);

  /** Times from the kill, of the clients that got there. */
  const sinceKill = (times: Float64Array) => summarize(Float64Array.from(times.filter((at) => !Number.isNaN(at)), (at) => at - killedAt));
  const resume = sinceKill(reconnects.resumedAt);
  const reopened = sinceKill(reconnects.openedAt);
  const noticed = sinceKill(reconnects.closedAt);
  const stormS = (after.at - before.at) / 1000;
  const calmS = (before.at - calm.at) / 1000;
  const stormQueries = delta(after.queries, before.queries);
  const calmQueries = delta(before.queries, calm.queries);
  const reads = (q: Record<string, number>) => (q.outbox ?? 0) + (q.stream_counter ?? 0) + (q.league_access ?? 0);
  const cores = (a: Record<string, number>, b: Record<string, number>, seconds: number) => CpuBudget.cores(b, a, seconds);
  const stormCores = cores(after.cpu, before.cpu, stormS);
  const calmCores = cores(before.cpu, calm.cpu, calmS);
  const resumes = onKilled.length - notResumed;
  // The survivor's CPU for the resumes: its CPU in the storm less what live delivery took before it, at that rate.
  const survivorName = 'gateway (survivor)';
  const resumeCpuMs = ((stormCores[survivorName]! - calmCores[survivorName]!) * stormS * 1000) / Math.max(1, resumes);

  log(`\nReconnect storm: ${onKilled.length} clients of the killed gateway resumed on the other (${options.clients} in all, ${options.matches} matches, ${options.rate} events/s)`);
  log(`  resumed        ${resumes}/${onKilled.length}; from SIGKILL: p50 ${ms(resume, 'p50')}, p99 ${ms(resume, 'p99')}, max ${ms(resume, 'max')} (target p99 ≤ ${RESUME_TARGET_P99_MS} ms: ${resume && resume.p99 <= RESUME_TARGET_P99_MS && notResumed === 0 ? 'met' : 'MISSED'})`);
  log(`  disconnected   (close seen by the client) from SIGKILL: p50 ${ms(noticed, 'p50')}, p99 ${ms(noticed, 'p99')}, max ${ms(noticed, 'max')}`);
  log(`  reconnected    (upgrade answered) from SIGKILL: p50 ${ms(reopened, 'p50')}, p99 ${ms(reopened, 'p99')}, max ${ms(reopened, 'max')}`);
  log(`  reconnects     ${reconnects.attempts} attempts; errors after reconnecting: ${JSON.stringify(reconnects.errors)}; listen overflows (machine-wide) +${after.overflows - before.overflows}`);
  const kinds = (q: Record<string, number>) => `outbox ${q.outbox}, stream_counter ${q.stream_counter}, league access ${q.league_access}; besides: writer ${q.writer}, canary ${q.canary}, other ${q.other}; ${q.transactions} transactions`;
  log(`  postgres       storm ${stormS.toFixed(1)} s: ${reads(stormQueries)} reads a resume can cost = ${(reads(stormQueries) / Math.max(1, resumes)).toFixed(4)} per resumed client (${kinds(stormQueries)})`);
  log(`                 before it, ${calmS.toFixed(1)} s: ${reads(calmQueries)} such reads (${kinds(calmQueries)})`);
  log(`  postgres CPU   ${(stormCores.postgres ?? 0).toFixed(2)} cores in the storm, ${(calmCores.postgres ?? 0).toFixed(2)} before it (${cpus().length} cores; machine busy with others: ${(stormCores.other ?? 0).toFixed(2)} cores)`);
  log(`  survivor CPU   ${(stormCores[survivorName] ?? 0).toFixed(2)} cores in the storm (${(calmCores[survivorName] ?? 0).toFixed(2)} before it): ~${resumeCpuMs.toFixed(2)} ms per resumed client; clients ${(stormCores.clients ?? 0).toFixed(2)} cores`);
  log(`  answered from  ${JSON.stringify(delta(after.resume, before.resume))}; outbox reads ${JSON.stringify(delta(after.outbox, before.outbox))}`);
  const [liveBefore, liveInStorm] = [calmLatency(0), calmLatency(1)];
  log(`  live latency   (commit → the survivor's own clients) of events committed in the storm: p50 ${ms(liveInStorm, 'p50')}, p99 ${ms(liveInStorm, 'p99')}, max ${ms(liveInStorm, 'max')}; before it: p50 ${ms(liveBefore, 'p50')}, p99 ${ms(liveBefore, 'p99')}, max ${ms(liveBefore, 'max')}`);
  log(`  deliveries     ${delivered}/${expected} of the run's events (clients not resumed left out): lost ${lost} (${clientsShort} clients short), duplicates ${sum('duplicates')}, gaps ${sum('gaps')} (${sum('missed')} events), replayed from before the run ${sum('early')}`);
  const file = writeResults(options.outDir, stamp, {
    command,
    options,
    machine: { cpus: cpus().length, node: process.version },
    clients: { total: options.clients, killedGateway: onKilled.length, resumed: resumes, notResumed },
    resumeFromKillMs: resume,
    reconnectedFromKillMs: reopened,
    reconnectAttempts: reconnects.attempts,
    reconnectErrors: reconnects.errors,
    listenOverflows: after.overflows - before.overflows,
    survivorCpuPerResumeMs: resumeCpuMs,
    survivorClientsLatencyMs: { beforeStorm: liveBefore, inStorm: liveInStorm },
    storm: { seconds: stormS, queries: stormQueries, cores: stormCores, resumeSource: delta(after.resume, before.resume), outboxReads: delta(after.outbox, before.outbox) },
    beforeStorm: { seconds: calmS, queries: calmQueries, cores: calmCores },
    deliveries: { expected, delivered, lost, clientsShort, duplicates: sum('duplicates'), gaps: sum('gaps'), missed: sum('missed'), replayedFromBeforeRun: sum('early') },
    writer: { committed: written.committed, achievedRate: written.achievedRate },
  });
  log(`\nresults: ${file}`);
  /** Of the killed gateway's clients, the fraction that had reached a step by each second after the kill. */
  const curve = (times: Float64Array): [number, number][] => {
    const seconds = Float64Array.from(times.filter((at) => !Number.isNaN(at)), (at) => (at - killedAt) / 1000).sort();
    return [[0, 0], ...cdf(seconds).map(([at, q]): [number, number] => [at, (q * seconds.length) / onKilled.length])];
  };
  const plot = lineChart({
    title: "Reconnect storm: the killed gateway's clients, from SIGKILL",
    subtitle: `${options.clients.toLocaleString('en-US')} clients on two gateways, ${onKilled.length.toLocaleString('en-US')} on the killed one; ${options.rate} events/s; resumed p99 ${ms(resume, 'p99')}`,
    xLabel: 'seconds since SIGKILL',
    yLabel: "fraction of the killed gateway's clients",
    yRange: [0, 1],
    series: [
      { name: 'close seen', points: curve(reconnects.closedAt) },
      { name: 'upgrade answered by the survivor', points: curve(reconnects.openedAt) },
      { name: 'resumed (every replay done)', points: curve(reconnects.resumedAt) },
    ],
  });
  log(`plot: ${writeSvg(options.outDir, stamp, 'resume', plot)}`);
  await Promise.all([stormPool.close(), calmPool.close()]);
  if (lost > 0 || sum('duplicates') > 0 || notResumed > 0) process.exitCode = 1;
}

main()
  .then(() => cleanupAll())
  .then(() => process.exit(process.exitCode ?? 0))
  .catch(async (error: unknown) => {
    console.error(`bench-storm failed: ${(error as Error).stack ?? String(error)}`);
    await cleanupAll();
    process.exit(1);
  });
