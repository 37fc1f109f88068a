import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NOTIFY_CONDITIONS, type NotifyCostResult } from './notify-cost';
import { barChart, lineChart } from './plot';
import type { ScenarioResult } from './scenario';
import { median } from './stats';

const fixed = (value: number | undefined, digits = 1): string => (value === undefined || !Number.isFinite(value) ? '–' : value.toFixed(digits));
const thousands = (value: number): string => Math.round(value).toLocaleString('en-US');

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function scenarioTable(results: ScenarioResult[]): string {
  const header = ['scenario', 'server', 'clients', 'ev/s', 'delivered/expected', 'lost', 'dup', 'p50 ms', 'p99 ms', 'max ms', 'deliv/s', 'CPU µs/deliv', 'RSS KB/conn'];
  const rows = results.map((r) => [
    r.label,
    r.server,
    `${r.connected}${r.connectFailures ? `(-${r.connectFailures})` : ''}`,
    thousands(r.achievedRate),
    `${thousands(r.delivered)}/${thousands(r.expected)} ${(r.deliveredRatio * 100).toFixed(r.deliveredRatio === 1 ? 0 : 2)}%`,
    thousands(r.lost),
    thousands(r.duplicates),
    fixed(r.latencyMs?.p50, 2),
    fixed(r.latencyMs?.p99, 2),
    fixed(r.latencyMs?.max, 1),
    thousands(r.deliveriesPerSecond),
    fixed(r.cpuPerDeliveryUs, 2),
    fixed(r.rssPerConnectionKb, 1),
  ]);
  return table(header, rows);
}

export interface FanoutRound {
  round: number;
  gatewayUs: number;
  /** The gateway's place in a side-by-side round (1 = started first; ScenarioResult.startOrder). */
  gatewayStartOrder: number;
  /** Per peer: its CPU µs per delivery, and the gateway's as a multiple of it. */
  peers: { server: string; us: number; ratio: number; startOrder: number }[];
}

/** The fan-out results, split into rounds: each gateway run and the peers run after it (--rounds). */
export function fanoutRounds(results: ScenarioResult[]): FanoutRound[] {
  const rounds: FanoutRound[] = [];
  for (const r of results.filter((result) => result.label === 'fanout')) {
    if (r.server.startsWith('gateway')) rounds.push({ round: rounds.length + 1, gatewayUs: r.cpuPerDeliveryUs, gatewayStartOrder: r.startOrder, peers: [] });
    else rounds.at(-1)?.peers.push({ server: r.server, us: r.cpuPerDeliveryUs, ratio: rounds.at(-1)!.gatewayUs / r.cpuPerDeliveryUs, startOrder: r.startOrder });
  }
  return rounds;
}

/**
 * Each round's gateway-to-peer ratio, and their median: one round's spread (±10 %) is as large as
 * the differences sought. Side by side, the start order biases the figures (startOrder), so when
 * rounds ran in both orders the medians of each order are shown too, and their geometric mean as
 * the comparison with that bias cancelled.
 */
export function roundsTable(results: ScenarioResult[]): string {
  const rounds = fanoutRounds(results);
  const peers = rounds[0]?.peers.map((p) => p.server) ?? [];
  const percent = (ratio: number) => `${ratio >= 1 ? '+' : ''}${((ratio - 1) * 100).toFixed(1)} %`;
  // In turn, every server runs alone (startOrder 1 for all).
  const place = (r: FanoutRound) => (r.peers.every((p) => p.startOrder === 1) && r.gatewayStartOrder === 1 ? 'alone' : r.gatewayStartOrder === 1 ? 'first' : 'after');
  const rows = rounds.map((r) => [
    String(r.round),
    place(r),
    fixed(r.gatewayUs, 2),
    ...peers.flatMap((name) => {
      const peer = r.peers.find((p) => p.server === name);
      return peer ? [fixed(peer.us, 2), percent(peer.ratio)] : ['–', '–'];
    }),
  ]);
  const medianRow = (label: string, of: FanoutRound[]) => [
    label,
    '',
    fixed(median(of.map((r) => r.gatewayUs)), 2),
    ...peers.flatMap((name) => {
      const runs = of.flatMap((r) => r.peers.filter((p) => p.server === name));
      return [fixed(median(runs.map((p) => p.us)), 2), percent(median(runs.map((p) => p.ratio)))];
    }),
  ];
  rows.push(medianRow('median', rounds));
  const first = rounds.filter((r) => place(r) === 'first');
  const after = rounds.filter((r) => place(r) === 'after');
  if (first.length && after.length) {
    rows.push(medianRow('median, gateway first', first), medianRow('median, gateway after', after));
    const ratioMedian = (of: FanoutRound[], name: string) => median(of.flatMap((r) => r.peers.filter((p) => p.server === name).map((p) => p.ratio)));
    rows.push(['both orders (geometric mean)', '', '', ...peers.flatMap((name) => ['', percent(Math.sqrt(ratioMedian(first, name) * ratioMedian(after, name)))])]);
  }
  return table(['round', 'gateway started', 'gateway µs/deliv', ...peers.flatMap((name) => [`${name} µs/deliv`, 'gateway vs it'])], rows);
}

/** Cores each component used while events flowed: who saturates the machine first. */
export function coresTable(results: ScenarioResult[]): string {
  const names = [...new Set(results.flatMap((r) => Object.keys(r.coresUsed)))];
  const header = ['scenario', 'server', ...names, 'total'];
  const rows = results.map((r) => [
    r.label,
    r.server,
    ...names.map((n) => fixed(r.coresUsed[n], 2)),
    fixed(Object.entries(r.coresUsed).reduce((a, [name, v]) => (name === 'steal' ? a : a + v), 0), 2),
  ]);
  return table(header, rows);
}

export function notifyTable(results: NotifyCostResult[]): string {
  const header = ['writers', 'condition', 'commits/s', 'vs notify'];
  const rows: string[][] = [];
  for (const r of results) {
    for (const condition of Object.keys(NOTIFY_CONDITIONS) as (keyof typeof NOTIFY_CONDITIONS)[]) {
      const cps = r.commitsPerSecond[condition];
      rows.push([String(r.writers), `${condition}: ${NOTIFY_CONDITIONS[condition]}`, thousands(cps), `${fixed((cps / r.commitsPerSecond.notify - 1) * 100, 1)}%`]);
    }
  }
  return table(header, rows);
}

/**
 * The performance targets (docs/benchmarks.md, "Against the performance targets"), checked
 * against the gateway's rows, each in the scenario built for it: CPU per delivery in the
 * fan-out scenario (per-event costs amortized over every client; the load scenario when
 * fan-out was skipped), latency in target-100, RSS per idle connection in the first scenario
 * of a fresh gateway process (load), delivery everywhere.
 */
export function targetChecks(results: ScenarioResult[]): { check: string; measured: string; target: string; met: boolean }[] {
  const checks: { check: string; measured: string; target: string; met: boolean }[] = [];
  const cpuLabel = results.some((r) => r.label === 'fanout' && r.server.startsWith('gateway')) ? 'fanout' : 'load';
  for (const r of results.filter((x) => x.server.startsWith('gateway'))) {
    const at = `${r.label} / ${r.server}`;
    if (r.label === cpuLabel) {
      checks.push({ check: `${at}: CPU per delivery`, measured: `${fixed(r.cpuPerDeliveryUs, 2)} µs`, target: '≤ 1.5 µs', met: r.cpuPerDeliveryUs <= 1.5 });
    }
    checks.push({ check: `${at}: delivered, no duplicates`, measured: `${(r.deliveredRatio * 100).toFixed(3)}%`, target: '100%', met: r.lost === 0 && r.duplicates === 0 });
    if (r.label === 'target-100' && r.latencyMs) {
      checks.push({ check: `${at}: latency p50`, measured: `${fixed(r.latencyMs.p50, 2)} ms`, target: '≤ 2 ms', met: r.latencyMs.p50 <= 2 });
      checks.push({ check: `${at}: latency p99`, measured: `${fixed(r.latencyMs.p99, 2)} ms`, target: '≤ 10 ms', met: r.latencyMs.p99 <= 10 });
    }
    if (r.label === 'load') {
      checks.push({ check: `${at}: RSS per idle connection`, measured: `${fixed(r.rssPerConnectionKb, 1)} KB`, target: '≤ 8 KB', met: r.rssPerConnectionKb <= 8 });
    }
  }
  return checks;
}

export function targetTable(results: ScenarioResult[]): string {
  return table(
    ['check', 'measured', 'target', 'met'],
    targetChecks(results).map((c) => [c.check, c.measured, c.target, c.met ? 'yes' : 'MISSED']),
  );
}

/** Anything that makes a row's figures suspect, one line each. */
export function warnings(results: ScenarioResult[]): string[] {
  const lines: string[] = [];
  for (const r of results) {
    const at = `${r.label} / ${r.server}`;
    if (r.connectFailures) lines.push(`${at}: ${r.connectFailures} clients failed to connect (${r.connectErrors.join('; ')})`);
    if (r.lost) lines.push(`${at}: ${thousands(r.lost)} deliveries lost (${r.clientsShort} clients short)${r.drainTimedOut ? '; gave up waiting 3 s after the last delivery' : ''}`);
    if (r.duplicates || r.gaps) lines.push(`${at}: ${r.duplicates} duplicate/out-of-order and ${r.gaps} gapped deliveries`);
    if (r.unexpected) lines.push(`${at}: ${r.unexpected} deliveries of events this run did not write`);
    if (r.parseMismatches) lines.push(`${at}: ${r.parseMismatches} sampled messages disagreed with the fast field scan`);
    const closed = Object.entries(r.closedDuringRun);
    if (closed.length) lines.push(`${at}: connections closed during the run: ${closed.map(([c, n]) => `${n}× code ${c}`).join(', ')}`);
    const other = r.coresUsed.other ?? 0;
    if (other > 0.25) lines.push(`${at}: other work on the machine used ${other.toFixed(2)} cores meanwhile: figures are noisy`);
    if (r.achievedRate < r.rate * 0.97) lines.push(`${at}: the writer reached only ${thousands(r.achievedRate)} of ${r.rate} events/s`);
  }
  return lines;
}

export function writeResults(outDir: string, stamp: string, data: unknown): string {
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `${stamp}.json`);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

/** An SVG next to the run's results JSON (`<stamp>-<name>.svg`); returns its path. */
export function writeSvg(outDir: string, stamp: string, name: string, svg: string): string {
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `${stamp}-${name}.svg`);
  writeFileSync(file, svg);
  return file;
}

const unique = (values: string[]): string[] => [...new Set(values)];

/**
 * The run's charts: CPU per delivery and RSS per connection by scenario and server (bars; RSS
 * only from each server process's first scenario, step 6 of docs/benchmarks.md), and one
 * latency CDF per scenario with a line per server. Returns the files written.
 */
export function writeScenarioPlots(outDir: string, stamp: string, results: ScenarioResult[]): string[] {
  const load = (r: ScenarioResult) => `${thousands(r.clients)} clients × ${thousands(r.rate)} ev/s`;
  const context = (rows: ScenarioResult[]) => unique(rows.map((r) => `${r.label}: ${load(r)}`)).join(' · ');
  const servers = unique(results.map((r) => r.server));
  const bars = (rows: ScenarioResult[], value: (r: ScenarioResult) => number) => {
    const groups = unique(rows.map((r) => r.label));
    return {
      groups,
      series: servers.map((server) => ({ name: server, values: groups.map((label) => rows.find((r) => r.server === server && r.label === label)).map((r) => (r ? value(r) : undefined)) })),
    };
  };
  const fresh = results.filter((r, i) => results.findIndex((x) => x.server === r.server) === i);
  const files = [
    writeSvg(outDir, stamp, 'cpu-per-delivery', barChart({ title: 'Server CPU per delivery', subtitle: context(results), yLabel: 'CPU µs per delivered message', ...bars(results, (r) => r.cpuPerDeliveryUs) })),
    writeSvg(outDir, stamp, 'rss-per-connection', barChart({ title: "RSS per idle connection (each server process's first scenario)", subtitle: context(fresh), yLabel: 'RSS KB per connection', ...bars(fresh, (r) => r.rssPerConnectionKb) })),
  ];
  for (const label of unique(results.map((r) => r.label))) {
    const rows = results.filter((r) => r.label === label);
    const chart = lineChart({
      title: `Commit → client latency: ${label}`,
      subtitle: context(rows),
      // An event can reach a client before COMMIT has returned to the writer: latency ≤ 0, drawn at the left edge.
      xLabel: 'latency (ms, log scale; ≤ 0.01 ms at the left edge)',
      yLabel: 'fraction of deliveries',
      xScale: 'log',
      xFloor: 0.01,
      yRange: [0, 1],
      series: rows.map((r) => ({ name: `${r.server}: p50 ${fixed(r.latencyMs?.p50, 2)}, p99 ${fixed(r.latencyMs?.p99, 2)} ms`, points: r.latencyCdfMs })),
    });
    files.push(writeSvg(outDir, stamp, `latency-${label}`, chart));
  }
  return files;
}
