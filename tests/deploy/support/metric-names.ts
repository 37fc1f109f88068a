/**
 * The metric names the code registers (every prom-client Counter, Gauge, Histogram and Summary
 * under packages/ and services/), and the metric names a PromQL query reads: what the
 * dashboard and the alert rules are checked against.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './manifests';

const REGISTRATION = /new (Counter|Gauge|Histogram|Summary)\s*(?:<[^>]*>)?\s*\(\s*\{\s*name:\s*'([a-zA-Z_:][a-zA-Z0-9_:]*)'/g;

/** The series names each kind of metric exposes (a histogram as _bucket, _sum and _count). */
const SERIES: Record<string, string[]> = {
  Counter: [''],
  Gauge: [''],
  Histogram: ['_bucket', '_sum', '_count'],
  Summary: ['', '_sum', '_count'],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' || entry.name === 'dist' ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Series names registered by the code, each with the file that registers it. */
export function registeredSeries(): Map<string, string> {
  const series = new Map<string, string>();
  for (const top of ['packages', 'services']) {
    for (const unit of readdirSync(join(REPO, top))) {
      const src = join(REPO, top, unit, 'src');
      let files: string[];
      try {
        files = sourceFiles(src);
      } catch {
        continue;
      }
      for (const file of files) {
        for (const match of readFileSync(file, 'utf8').matchAll(REGISTRATION)) {
          for (const suffix of SERIES[match[1]!]!) series.set(match[2]! + suffix, file.slice(REPO.length + 1));
        }
      }
    }
  }
  return series;
}

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/**
 * The metric names a PromQL expression selects. Strings, label matchers, ranges and grouping
 * label lists are removed first; what is left that is an identifier not called as a function
 * and not a keyword is a metric name. Grafana variables ($namespace, $__rate_interval) sit in
 * matchers and ranges, so they go with them.
 */
export function metricsInQuery(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const [, name, call] = match;
    if (call || KEYWORDS.has(name!.toLowerCase())) continue;
    names.add(name!);
  }
  return [...names];
}
