import { createLogger } from '@matchcast/runtime';
import { PositionCheck } from '../../src/delivery/position-check';

/** A sequencer that records each check's window and answers with what the test sets. */
function sequencer(answer: () => Promise<Map<string, number>>) {
  const windows: number[] = [];
  const recovered: Map<string, number>[] = [];
  return {
    windows,
    recovered,
    behind: (windowMs?: number) => {
      windows.push(windowMs ?? -1);
      return answer();
    },
    recover: async (heads: ReadonlyMap<string, number>) => {
      recovered.push(new Map(heads));
      return [...heads.keys()];
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('PositionCheck', () => {
  const logger = createLogger('test', 'silent');

  it('waits while no path delivers, then reads the heads that moved since the last check that ran', async () => {
    const seq = sequencer(async () => new Map());
    let delivering = false;
    const check = new PositionCheck(seq, { intervalMs: 30, marginMs: 1000 }, () => delivering, { inc: () => undefined }, logger);
    check.start();
    await sleep(200);
    expect(seq.windows).toEqual([]);
    delivering = true;
    await sleep(300);
    check.close();
    // The first window reaches back over the time no path delivered (≥ 200 ms), plus the margin.
    expect(seq.windows[0]).toBeGreaterThanOrEqual(1200);
    // Later ones cover one interval (plus the margin), not the whole run.
    expect(seq.windows.at(-1)).toBeLessThan(1200);
  });

  it('keeps the window of a check that failed for the next one', async () => {
    let fail = true;
    const seq = sequencer(async () => {
      if (fail) throw new Error('connection refused');
      return new Map();
    });
    const check = new PositionCheck(seq, { intervalMs: 30, marginMs: 1000 }, () => true, { inc: () => undefined }, logger);
    check.start();
    await sleep(200);
    fail = false;
    const failed = seq.windows.length;
    await sleep(300);
    check.close();
    expect(failed).toBeGreaterThan(1);
    // The first check that succeeds reaches back over all the failed ones (≥ 200 ms), plus the margin.
    expect(seq.windows[failed]).toBeGreaterThanOrEqual(1200);
    expect(seq.windows.at(-1)).toBeLessThan(1200);
  });

  it('reads what was behind only after the grace, and counts each stream it had to read', async () => {
    const seq = sequencer(async () => new Map([['match:a', 7]]));
    let counted = 0;
    const check = new PositionCheck(seq, { intervalMs: 10, marginMs: 1000 }, () => true, { inc: (n) => (counted += n) }, logger);
    check.start();
    await sleep(100);
    // Still in its grace: nothing read yet.
    expect(seq.recovered).toEqual([]);
    await sleep(2200);
    check.close();
    expect(seq.recovered[0]).toEqual(new Map([['match:a', 7]]));
    expect(counted).toBe(seq.recovered.length);
  });
});
