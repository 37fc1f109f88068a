/** Summary of a latency sample (milliseconds). */
export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** Nearest-rank quantile q of a sorted, non-empty sample. */
const quantile = (sorted: Float64Array, q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;

/** Sorts in place (a Float64Array sorts numerically) and reads nearest-rank percentiles. */
export function summarize(values: Float64Array): LatencySummary | undefined {
  if (values.length === 0) return undefined;
  values.sort();
  const at = (q: number) => quantile(values, q);
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] ?? 0;
  return {
    count: values.length,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    p999: at(0.999),
    max: values[values.length - 1] ?? NaN,
    mean: sum / values.length,
  };
}

/** The median of a few values (the middle two averaged when even), e.g. of per-round ratios. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The levels a distribution is kept at for plotting: every percent, then the tail. */
const CDF_LEVELS = [...Array.from({ length: 100 }, (_, i) => i / 100), 0.995, 0.999, 0.9995, 0.9999, 1];

/** A sorted sample's CDF as [value, fraction ≤ it] points, at most ~105 whatever the sample's size. */
export function cdf(sorted: Float64Array): [number, number][] {
  if (sorted.length === 0) return [];
  return CDF_LEVELS.map((q) => [quantile(sorted, q), q]);
}

export function concat(parts: Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Wall-clock milliseconds with sub-ms resolution, comparable across processes on one host. */
export const nowMs = (): number => performance.timeOrigin + performance.now();

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
