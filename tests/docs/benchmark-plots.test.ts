/**
 * The benches' SVG writer (bench/src/plot.ts) and the charts docs/benchmarks.md shows: well-formed
 * SVG, bars and axes to scale, no NaN whatever the input, and every committed chart embedded.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { barChart, lineChart, linearAxis, logAxis } from '../../bench/src/plot';

const ROOT = join(__dirname, '..', '..');

/** Throws unless every tag is closed in order and the root is one <svg> element. */
function assertWellFormed(svg: string): void {
  const stack: string[] = [];
  let roots = 0;
  for (const [, closing, name, selfClosing] of svg.matchAll(/<(\/?)([a-zA-Z]+)\b[^>]*?(\/?)>/g)) {
    if (closing) {
      expect(stack.pop()).toBe(name);
    } else if (!selfClosing) {
      if (stack.length === 0) roots++;
      stack.push(name!);
    }
  }
  expect(stack).toEqual([]);
  expect(roots).toBe(1);
  expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  // Text is escaped: no raw '<' or '&' outside markup.
  expect(svg.replace(/<[^>]*>/g, '')).not.toMatch(/[<>]|&(?!(amp|lt|gt|quot);)/);
}

const numbers = (svg: string) => [...svg.matchAll(/="([^"]*)"/g)].flatMap(([, v]) => v!.split(/[\s,MLHVZ]+/).filter(Boolean));

function assertNoBadNumbers(svg: string): void {
  expect(svg).not.toMatch(/NaN|Infinity|undefined/);
  for (const value of numbers(svg)) if (/^-?[\d.]+(e[-+]?\d+)?$/.test(value)) expect(Number.isFinite(Number(value))).toBe(true);
}

const bars = (svg: string) => [...svg.matchAll(/<rect x="[^"]*" y="([^"]*)" width="[^"]*" height="([^"]*)" fill="#[0-9a-f]+"><title>([^<]*)<\/title>/g)].map(([, y, h, title]) => ({ y: Number(y), height: Number(h), title }));

describe('bench plot writer', () => {
  it('draws bars to scale, from zero, and leaves out missing values', () => {
    const svg = barChart({
      title: 'CPU <per> delivery & more',
      yLabel: 'µs',
      groups: ['load', 'fanout'],
      series: [
        { name: 'gateway', values: [2, 8] },
        { name: 'floor', values: [4, Number.NaN] },
        { name: 'missing', values: [undefined, undefined] },
      ],
    });
    assertWellFormed(svg);
    assertNoBadNumbers(svg);
    const drawn = bars(svg);
    expect(drawn.map((b) => b.title)).toEqual(['gateway, load: 2', 'floor, load: 4', 'gateway, fanout: 8']);
    const [two, four, eight] = drawn.map((b) => b.height) as [number, number, number];
    expect(four / two).toBeCloseTo(2, 1);
    expect(eight / two).toBeCloseTo(4, 1);
    // All bars stand on the same baseline (zero).
    expect(new Set(drawn.map((b) => Math.round(b.y + b.height))).size).toBe(1);
    expect(svg).toContain('CPU &lt;per&gt; delivery &amp; more');
  });

  it('draws negative bars below the zero line', () => {
    const svg = barChart({ title: 't', yLabel: 'KB', groups: ['a'], series: [{ name: 'up', values: [6] }, { name: 'down', values: [-3] }] });
    assertWellFormed(svg);
    const [up, down] = bars(svg) as [{ y: number; height: number }, { y: number; height: number }];
    expect(down.y).toBeCloseTo(up.y + up.height, 0);
    expect(up.height / down.height).toBeCloseTo(2, 1);
  });

  it('draws lines on a log axis, dropping points it cannot place', () => {
    const svg = lineChart({
      title: 'latency',
      xLabel: 'ms',
      yLabel: 'fraction',
      xScale: 'log',
      yRange: [0, 1],
      series: [{ name: 'a', points: [[0, 0], [0.5, 0.2], [5, 0.9], [50, 1], [Number.NaN, 0.5]] }],
    });
    assertWellFormed(svg);
    assertNoBadNumbers(svg);
    const path = /<path d="(M[^"]*)" fill="none" stroke="#1f77b4"/.exec(svg)?.[1] ?? '';
    expect(path.match(/[ML]/g)).toHaveLength(3);
    // 0.1 … 100 ms: three decades, so 0.5, 5 and 50 are evenly spaced along x.
    const xs = [...path.matchAll(/[ML]([\d.]+) /g)].map(([, x]) => Number(x)) as [number, number, number];
    expect(xs[1] - xs[0]).toBeCloseTo(xs[2] - xs[1], 0);
  });

  it('draws points below a log axis floor at the floor', () => {
    const svg = lineChart({ title: 'cdf', xLabel: 'ms', yLabel: 'fraction', xScale: 'log', xFloor: 0.01, series: [{ name: 'a', points: [[-0.2, 0], [0, 0.4], [1, 1]] }] });
    assertNoBadNumbers(svg);
    const xs = [.../<path d="(M[^"]*)" fill="none"/.exec(svg)![1]!.matchAll(/[ML]([\d.]+) /g)].map(([, x]) => Number(x));
    expect(xs).toHaveLength(3);
    expect(xs[0]).toBe(xs[1]);
    expect(xs[2]).toBeGreaterThan(xs[1]!);
  });

  it('draws axes without NaN when there is no data at all', () => {
    for (const svg of [
      lineChart({ title: 'empty', xLabel: 'x', yLabel: 'y', series: [{ name: 'none', points: [] }] }),
      lineChart({ title: 'empty', xLabel: 'x', yLabel: 'y', xScale: 'log', series: [] }),
      barChart({ title: 'empty', yLabel: 'y', groups: [], series: [] }),
      barChart({ title: 'zeros', yLabel: 'y', groups: ['a'], series: [{ name: 's', values: [0] }] }),
    ]) {
      assertWellFormed(svg);
      assertNoBadNumbers(svg);
    }
  });

  it('picks ticks at 1, 2 or 5 × 10^k covering the data', () => {
    expect(linearAxis(0, 13).ticks).toEqual([0, 5, 10, 15]);
    expect(linearAxis(0, 1).ticks).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(linearAxis(-3, 6).ticks).toEqual([-4, -2, 0, 2, 4, 6]);
    expect(linearAxis(0, 12_345).label(10_000)).toBe('10,000');
    const log = logAxis(0.3, 40);
    expect(log.ticks[0]).toBeCloseTo(0.1);
    expect(log.ticks.at(-1)).toBe(100);
    expect(log.at(1)).toBeCloseTo(1 / 3);
  });
});

describe('docs/benchmarks charts', () => {
  const dir = join(ROOT, 'docs', 'benchmarks');
  const page = readFileSync(join(ROOT, 'docs', 'benchmarks.md'), 'utf8');
  const files = readdirSync(dir).filter((f) => f.endsWith('.svg'));

  it('are committed', () => expect(files.length).toBeGreaterThan(0));

  it.each(files)('%s is well-formed, free of NaN, small and embedded in docs/benchmarks.md', (file) => {
    const svg = readFileSync(join(dir, file), 'utf8');
    assertWellFormed(svg);
    assertNoBadNumbers(svg);
    expect(svg.length).toBeLessThan(40_000);
    expect(page).toContain(`](benchmarks/${file})`);
  });
});
