/**
 * `--rounds N` (bench/src/run.ts): the fan-out results split into rounds, each round's gateway
 * against each peer run after it (or beside it, --side-by-side), and the median ratio the bench prints.
 */
import { parseOptions } from '../../bench/src/options';
import { fanoutRounds, roundsTable } from '../../bench/src/report';
import type { ScenarioResult } from '../../bench/src/scenario';

const FLOOR = 'peer: ws, frame once, raw write (floor)';
const result = (label: string, server: string, cpuPerDeliveryUs: number, startOrder = 1) => ({ label, server, cpuPerDeliveryUs, startOrder }) as ScenarioResult;

describe('bench fan-out rounds', () => {
  const results = [
    result('load', 'gateway (redis)', 50), // not a fan-out: left out
    result('fanout', 'gateway (redis)', 11),
    result('fanout', FLOOR, 10),
    result('fanout', 'gateway (redis)', 12),
    result('fanout', FLOOR, 10),
    result('fanout', 'gateway (redis)', 9),
    result('fanout', FLOOR, 10),
  ];

  it('pairs each gateway run with the peers run after it', () => {
    const rounds = fanoutRounds(results);
    expect(rounds.map((r) => r.gatewayUs)).toEqual([11, 12, 9]);
    expect(rounds.map((r) => r.peers.map((p) => [p.server, p.ratio]))).toEqual([[[FLOOR, 1.1]], [[FLOOR, 1.2]], [[FLOOR, 0.9]]]);
  });

  it('prints every round and the medians', () => {
    const lines = roundsTable(results).split('\n');
    expect(lines).toHaveLength(2 + 3 + 1);
    expect(lines[2]).toMatch(/^1\s+alone\s+11\.00\s+10\.00\s+\+10\.0 %$/);
    expect(lines[4]).toMatch(/^3\s+alone\s+9\.00\s+10\.00\s+-10\.0 %$/);
    expect(lines.at(-1)).toMatch(/^median\s+11\.00\s+10\.00\s+\+10\.0 %$/);
  });

  it('side by side in both orders, shows the median of each order and their geometric mean', () => {
    // Gateway first: +21 % and +19 %; gateway after: −1 % and +1 % (a start-order bias, made large here).
    const sideBySide = [
      result('fanout', 'gateway (redis)', 12.1, 1),
      result('fanout', FLOOR, 10, 2),
      result('fanout', 'gateway (redis)', 9.9, 2),
      result('fanout', FLOOR, 10, 1),
      result('fanout', 'gateway (redis)', 11.9, 1),
      result('fanout', FLOOR, 10, 2),
      result('fanout', 'gateway (redis)', 10.1, 2),
      result('fanout', FLOOR, 10, 1),
    ];
    const lines = roundsTable(sideBySide).split('\n');
    expect(lines[2]).toMatch(/^1\s+first\s+12\.10\s+10\.00\s+\+21\.0 %$/);
    expect(lines[3]).toMatch(/^2\s+after\s+9\.90\s+10\.00\s+-1\.0 %$/);
    expect(lines.at(-3)).toMatch(/^median, gateway first\s+12\.00\s+10\.00\s+\+20\.0 %$/);
    expect(lines.at(-2)).toMatch(/^median, gateway after\s+10\.00\s+10\.00\s+\+0\.0 %$/);
    // sqrt(1.20 × 1.00) = 1.0954
    expect(lines.at(-1)).toMatch(/^both orders \(geometric mean\)\s+\+9\.5 %$/);
  });

  it('takes --rounds from 1 to 20, 1 by default', () => {
    expect(parseOptions([], {}, '/tmp').rounds).toBe(1);
    expect(parseOptions(['--rounds', '5'], {}, '/tmp').rounds).toBe(5);
    expect(() => parseOptions(['--rounds', '0'], {}, '/tmp')).toThrow(/--rounds must be an integer in \[1, 20\]/);
  });

  it('runs the servers in turn unless --side-by-side is given, which takes no value', () => {
    expect(parseOptions([], {}, '/tmp').sideBySide).toBe(false);
    const options = parseOptions(['--side-by-side', '--rounds', '3'], {}, '/tmp');
    expect(options).toMatchObject({ sideBySide: true, rounds: 3 });
    expect(parseOptions(['--side-by-side=false'], {}, '/tmp').sideBySide).toBe(false);
    expect(parseOptions([], { BENCH_SIDE_BY_SIDE: '1' }, '/tmp').sideBySide).toBe(true);
  });

  it('takes --idle-seconds from 1 to 600, 2 by default', () => {
    expect(parseOptions([], {}, '/tmp').idleSeconds).toBe(2);
    expect(parseOptions(['--idle-seconds', '30'], {}, '/tmp').idleSeconds).toBe(30);
    expect(parseOptions([], { BENCH_IDLE_SECONDS: '10' }, '/tmp').idleSeconds).toBe(10);
    expect(() => parseOptions(['--idle-seconds', '0'], {}, '/tmp')).toThrow(/--idle-seconds must be an integer in \[1, 600\]/);
  });
});
