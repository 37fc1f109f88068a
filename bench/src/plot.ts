/**
 * Dependency-free SVG charts for the benches' results: grouped bars (a figure per server) and
 * lines (latency CDFs, curves over time), each with axes, tick labels, a title and a legend.
 * Values that are not finite (and, on a log axis, not positive) are left out, so a chart never
 * carries NaN; an empty chart still draws its axes.
 */

export interface BarChart {
  title: string;
  /** A line under the title: what was measured, under which load. */
  subtitle?: string;
  yLabel: string;
  /** The categories along x (short: they are written under their bars). */
  groups: string[];
  /** One bar per group and series; undefined or not finite: no bar. */
  series: { name: string; values: (number | undefined)[] }[];
}

export interface LineChart {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  xScale?: 'linear' | 'log';
  /** On a log axis: smaller x (zero and negative too) are drawn at this value, not left out. */
  xFloor?: number;
  /** A fixed y range (e.g. [0, 1] for fractions); otherwise from the data, from 0. */
  yRange?: [number, number];
  series: { name: string; points: [x: number, y: number][] }[];
}

/** Ticks and the map from value to 0..1 along an axis. */
export interface Axis {
  ticks: number[];
  at: (value: number) => number;
  label: (value: number) => string;
}

const WIDTH = 720;
const PLOT_HEIGHT = 280;
const MARGIN = { left: 76, right: 24, bottom: 30, xLabel: 28, title: 30, subtitle: 16, legendLine: 17 };
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
const color = (i: number): string => PALETTE[i % PALETTE.length]!;

const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
/** Coordinates with at most one decimal: small files, no exponent notation. */
const px = (value: number): string => String(Math.round(value * 10) / 10);

function text(x: number, y: number, content: string, attrs = ''): string {
  return `<text x="${px(x)}" y="${px(y)}"${attrs ? ` ${attrs}` : ''}>${escape(content)}</text>`;
}

/** A tick label: thousands separated, as many decimals as the tick step needs. */
function formatter(step: number): (value: number) => string {
  const decimals = Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
  return (value) => value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

/** A bar's value: three significant digits, or whole numbers with thousands separated. */
const valueLabel = (value: number): string => {
  const decimals = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
};

/** About `count` ticks at 1, 2 or 5 × 10^k, the range widened to whole steps. */
export function linearAxis(min: number, max: number, count = 5): Axis {
  if (!(max > min)) [min, max] = [min - 1, max + 1];
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude;
  const lo = Math.floor(min / step + 1e-9) * step;
  const hi = Math.ceil(max / step - 1e-9) * step;
  const ticks = Array.from({ length: Math.round((hi - lo) / step) + 1 }, (_, i) => Number((lo + i * step).toPrecision(12)));
  return { ticks, at: (v) => (v - lo) / (hi - lo), label: formatter(step) };
}

/** Whole decades around [min, max] (min > 0), ticks at 1, 2, 5 × 10^k when they fit. */
export function logAxis(min: number, max: number): Axis {
  const lo = Math.floor(Math.log10(min));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(max)));
  const mantissas = hi - lo <= 3 ? [1, 2, 5] : [1];
  const ticks: number[] = [];
  for (let k = lo; k <= hi; k++) for (const m of mantissas) if (k < hi || m === 1) ticks.push(m * 10 ** k);
  const label = (v: number) => formatter(v)(v);
  return { ticks, at: (v) => (Math.log10(v) - lo) / (hi - lo), label };
}

interface Frame {
  height: number;
  box: { x: number; y: number; width: number; height: number };
  parts: string[];
}

interface Labels {
  title: string;
  subtitle?: string;
  xLabel?: string;
  yLabel: string;
}

/** Title, legend (one line per series, above the plot), y axis with grid lines and its label. */
function frame(labels: Labels, names: string[], y: Axis): Frame {
  const legendTop = MARGIN.title + (labels.subtitle ? MARGIN.subtitle : 0);
  const top = legendTop + names.length * MARGIN.legendLine + 10;
  const box = { x: MARGIN.left, y: top, width: WIDTH - MARGIN.left - MARGIN.right, height: PLOT_HEIGHT };
  const height = top + PLOT_HEIGHT + MARGIN.bottom + (labels.xLabel ? MARGIN.xLabel : 0);
  const parts = [text(WIDTH / 2, 20, labels.title, 'text-anchor="middle" font-size="15" font-weight="bold"')];
  if (labels.subtitle) parts.push(text(WIDTH / 2, 20 + MARGIN.subtitle, labels.subtitle, 'text-anchor="middle" fill="#555"'));
  names.forEach((name, i) => {
    const ly = legendTop + i * MARGIN.legendLine + 8;
    parts.push(`<rect x="${box.x}" y="${ly - 9}" width="12" height="10" fill="${color(i)}"/>`, text(box.x + 18, ly, name));
  });
  for (const tick of y.ticks) {
    const ty = box.y + box.height * (1 - y.at(tick));
    parts.push(`<line x1="${box.x}" x2="${box.x + box.width}" y1="${px(ty)}" y2="${px(ty)}" stroke="#e4e4e4"/>`);
    parts.push(text(box.x - 6, ty + 4, y.label(tick), 'text-anchor="end"'));
  }
  parts.push(text(16, box.y + box.height / 2, labels.yLabel, `text-anchor="middle" transform="rotate(-90 16 ${px(box.y + box.height / 2)})"`));
  if (labels.xLabel) parts.push(text(box.x + box.width / 2, height - 12, labels.xLabel, 'text-anchor="middle"'));
  return { height, box, parts };
}

function document(frame: Frame, body: string[]): string {
  const { box } = frame;
  const axes = `<path d="M${box.x} ${box.y}V${box.y + box.height}H${box.x + box.width}" fill="none" stroke="#333"/>`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${frame.height}" viewBox="0 0 ${WIDTH} ${frame.height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...frame.parts,
    ...body,
    axes,
    '</svg>',
    '',
  ].join('\n');
}

const finite = (value: number | undefined): value is number => value !== undefined && Number.isFinite(value);

/** Grouped bars from 0 (negative values go below the axis line), each bar labelled with its value. */
export function barChart(chart: BarChart): string {
  const values = chart.series.flatMap((s) => s.values.filter(finite));
  const y = linearAxis(Math.min(0, ...values), Math.max(0, ...values));
  const f = frame(chart, chart.series.map((s) => s.name), y);
  const { box } = f;
  const body: string[] = [];
  const groupWidth = box.width / Math.max(1, chart.groups.length);
  // Each group's bars side by side, centred; a series without a value there takes no slot.
  const present = chart.groups.map((_, g) =>
    chart.series.flatMap((series, s) => {
      const value = series.values[g];
      return finite(value) ? [{ series, s, value }] : [];
    }),
  );
  const barWidth = (groupWidth * 0.8) / Math.max(1, ...present.map((bars) => bars.length));
  const yOf = (v: number) => box.y + box.height * (1 - y.at(v));
  const zero = yOf(0);
  chart.groups.forEach((group, g) => {
    const left = box.x + (g + 0.5) * groupWidth - (present[g]!.length * barWidth) / 2;
    present[g]!.forEach(({ series, s, value: v }, slot) => {
      const x = left + slot * barWidth;
      const top = Math.min(zero, yOf(v));
      const height = Math.abs(yOf(v) - zero);
      body.push(`<rect x="${px(x + 1)}" y="${px(top)}" width="${px(barWidth - 2)}" height="${px(height)}" fill="${color(s)}"><title>${escape(`${series.name}, ${group}: ${v}`)}</title></rect>`);
      body.push(text(x + barWidth / 2, v >= 0 ? top - 4 : top + height + 12, valueLabel(v), 'text-anchor="middle" font-size="10"'));
    });
    body.push(text(box.x + (g + 0.5) * groupWidth, box.y + box.height + 18, group, 'text-anchor="middle"'));
  });
  if (zero > box.y && zero < box.y + box.height) body.push(`<line x1="${box.x}" x2="${box.x + box.width}" y1="${px(zero)}" y2="${px(zero)}" stroke="#333"/>`);
  return document(f, body);
}

/** Lines through each series' points in x order, on a linear or log x axis. */
export function lineChart(chart: LineChart): string {
  const log = chart.xScale === 'log';
  const series = chart.series.map((s) => ({
    name: s.name,
    points: s.points
      .filter(([x, y]) => finite(x) && finite(y))
      .map(([x, y]): [number, number] => [log && chart.xFloor !== undefined ? Math.max(chart.xFloor, x) : x, y])
      .filter(([x]) => !log || x > 0)
      .sort((a, b) => a[0] - b[0]),
  }));
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const x = log ? logAxis(xs.length ? Math.min(...xs) : 1, xs.length ? Math.max(...xs) : 10) : linearAxis(Math.min(0, ...xs), xs.length ? Math.max(...xs) : 1);
  const y = linearAxis(...(chart.yRange ?? [Math.min(0, ...ys), ys.length ? Math.max(...ys) : 1]));
  const f = frame(chart, series.map((s) => s.name), y);
  const { box } = f;
  const body: string[] = [];
  for (const tick of x.ticks) {
    const tx = box.x + box.width * x.at(tick);
    body.push(`<line x1="${px(tx)}" x2="${px(tx)}" y1="${box.y}" y2="${box.y + box.height}" stroke="#f0f0f0"/>`);
    body.push(text(tx, box.y + box.height + 18, x.label(tick), 'text-anchor="middle"'));
  }
  series.forEach((s, i) => {
    if (s.points.length === 0) return;
    const d = s.points.map(([px0, py0], j) => `${j ? 'L' : 'M'}${px(box.x + box.width * x.at(px0))} ${px(box.y + box.height * (1 - y.at(py0)))}`).join('');
    body.push(`<path d="${d}" fill="none" stroke="${color(i)}" stroke-width="2"/>`);
  });
  return document(f, body);
}
