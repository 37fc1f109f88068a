import type { OutboxEvent } from '@matchcast/protocol';
import { createLogger } from '@matchcast/runtime';
import { Sequencer } from '../../src/delivery/sequencer';
import { FakeOutbox, fakeMetrics, matchEvent } from './fakes';

const logger = createLogger('test', 'silent');

async function setup(committed: OutboxEvent[] = []) {
  const outbox = new FakeOutbox();
  outbox.commit(...committed);
  const delivered: string[] = [];
  const metrics = fakeMetrics('received', 'duplicates', 'gapsFilled', 'skipped', 'claimsBeyondHead');
  const sequencer = new Sequencer(outbox, (e) => delivered.push(`${e.stream}@${e.seq}`), metrics, logger);
  await sequencer.init();
  return { outbox, delivered, metrics, sequencer };
}

describe('Sequencer', () => {
  it('starts every stream at its head and delivers events in order without reading the outbox', async () => {
    const { outbox, delivered, sequencer } = await setup([matchEvent('m', 1), matchEvent('m', 2)]);
    expect(sequencer.lastSeq('match:m')).toBe(2);
    sequencer.accept(matchEvent('m', 3), 'redis');
    sequencer.accept(matchEvent('m', 4), 'redis');
    sequencer.accept(matchEvent('new', 1), 'redis');
    expect(delivered).toEqual(['match:m@3', 'match:m@4', 'match:new@1']);
    expect(outbox.reads).toBe(0);
  });

  it('drops duplicates (seq ≤ last), whichever path they come from', async () => {
    const { delivered, metrics, sequencer } = await setup();
    sequencer.accept(matchEvent('m', 1), 'redis');
    sequencer.accept(matchEvent('m', 1), 'postgres');
    sequencer.accept(matchEvent('m', 1), 'redis');
    expect(delivered).toEqual(['match:m@1']);
    expect(metrics.duplicates.total).toBe(2);
  });

  it('fills a gap from the outbox, in order, and holds later live events until it is filled', async () => {
    const { outbox, delivered, metrics, sequencer } = await setup();
    outbox.commit(matchEvent('m', 1), matchEvent('m', 2), matchEvent('m', 3), matchEvent('m', 4));
    sequencer.accept(matchEvent('m', 3), 'redis'); // 1 and 2 were never seen
    sequencer.accept(matchEvent('m', 4), 'redis'); // arrives while the fill runs
    await sequencer.idle();
    expect(delivered).toEqual(['match:m@1', 'match:m@2', 'match:m@3', 'match:m@4']);
    expect(metrics.gapsFilled.total).toBe(1);
    sequencer.accept(matchEvent('m', 2), 'postgres'); // the late original
    expect(delivered).toHaveLength(4);
  });

  it('reads the row of a reference (a payload too large for NOTIFY)', async () => {
    const { outbox, delivered, sequencer } = await setup();
    outbox.commit(matchEvent('m', 1, { big: 'x'.repeat(9000) }));
    sequencer.accept({ ref: true, id: '1001', stream: 'match:m', seq: 1 }, 'redis');
    await sequencer.idle();
    expect(delivered).toEqual(['match:m@1']);
  });

  it('skips rows pruned past the history window, counting them, instead of stalling', async () => {
    const { outbox, delivered, metrics, sequencer } = await setup([matchEvent('m', 1)]);
    outbox.commit(matchEvent('m', 4), matchEvent('m', 5)); // 2 and 3 are gone
    outbox.heads.set('match:m', 5);
    sequencer.accept(matchEvent('m', 5), 'redis');
    await sequencer.idle();
    expect(delivered).toEqual(['match:m@4', 'match:m@5']);
    expect(metrics.skipped.total).toBe(2);
  });

  it('cuts a claim beyond the committed head down to it: a forged seq cannot wedge a stream', async () => {
    const { outbox, delivered, metrics, sequencer } = await setup([matchEvent('m', 1)]);
    sequencer.accept({ ref: true, id: '9', stream: 'match:m', seq: 2 ** 40 }, 'redis');
    sequencer.accept({ ref: true, id: '9', stream: 'match:unknown', seq: 7 }, 'redis');
    await sequencer.idle();
    expect(metrics.claimsBeyondHead.total).toBe(2);
    expect(sequencer.lastSeq('match:unknown')).toBe(0);
    outbox.commit(matchEvent('m', 2));
    sequencer.accept(matchEvent('m', 2), 'redis');
    expect(delivered).toEqual(['match:m@2']);
  });

  it('catches up every stream that moved, and stops all work on close', async () => {
    const { outbox, delivered, sequencer } = await setup([matchEvent('a', 1)]);
    outbox.commit(matchEvent('a', 2), matchEvent('b', 1));
    expect(await sequencer.catchUp(60_000)).toBe(2);
    expect(delivered.sort()).toEqual(['match:a@2', 'match:b@1']);

    jest.useFakeTimers();
    try {
      outbox.failing = true;
      sequencer.accept(matchEvent('a', 5), 'redis'); // a gap the database cannot fill right now
      await jest.advanceTimersByTimeAsync(5_000);
      const readsBeforeClose = outbox.reads;
      expect(readsBeforeClose).toBeGreaterThan(1); // retrying, with backoff
      sequencer.close();
      await jest.advanceTimersByTimeAsync(30_000);
      expect(outbox.reads).toBeLessThanOrEqual(readsBeforeClose + 1);
      await expect(sequencer.idle()).resolves.toBeUndefined();
    } finally {
      jest.useRealTimers();
    }
  });
});
