import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NOTIFY_CONDITIONS, type NotifyCostResult } from './notify-cost';
import type { ScenarioResult } from './scenario';

const fixed = (value: number | undefined, digits = 1): string => (value === undefined || !Number.isFinite(value) ? '–' : value.toFixed(digits));
const thousands = (value: number): string => Math.round(value).toLocaleString('en-US');

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
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

/** Cores each component used while events flowed: who saturates the machine first. */
export function coresTable(results: ScenarioResult[]): string {
  const names = [...new Set(results.flatMap((r) => Object.keys(r.coresUsed)))];
  const header = ['scenario', 'server', ...names, 'total'];
  const rows = results.map((r) => [
    r.label,
    r.server,
    ...names.map((n) => fixed(r.coresUsed[n], 2)),
    fixed(Object.values(r.coresUsed).reduce((a, b) => a + b, 0), 2),
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
