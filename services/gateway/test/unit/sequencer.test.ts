import type { OutboxEvent } from '@matchcast/protocol';
import { createLogger } from '@matchcast/runtime';
import { Sequencer } from '../../src/delivery/sequencer';
import { FakeOutbox, fakeMetrics, matchEvent, userEvent } from './fakes';

const logger = createLogger('test', 'silent');
/** Head reads go out at the end of the event-loop turn that tracked the streams. */
const tick = () => new Promise((resolve) => setImmediate(resolve));

async function setup(committed: OutboxEvent[] = []) {
  const outbox = new FakeOutbox();
  outbox.commit(...committed);
  const delivered: string[] = [];
  const metrics = fakeMetrics('received', 'duplicates', 'gapsFilled', 'skipped', 'undeliverable', 'claimsBeyondHead', 'untracked');
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
    expect(delivered).toEqual(['match:m@3', 'match:m@4']);
    expect(outbox.reads).toBe(0);
  });

  it("takes a stream not seen before from the outbox, not the bus: a new match's first event is read, garbage is dropped and followed by nothing", async () => {
    const { outbox, delivered, metrics, sequencer } = await setup();
    outbox.commit(matchEvent('new', 1));
    sequencer.accept(matchEvent('new', 1), 'redis');
    for (let i = 0; i < 50; i++) sequencer.accept(matchEvent(`forged${i}`, 1), 'redis');
    await sequencer.idle();
    expect(delivered).toEqual(['match:new@1']);
    expect(sequencer.trackedStreams().match).toBe(1);
    expect(metrics.claimsBeyondHead.total).toBe(50);
    sequencer.accept(matchEvent('new', 2), 'redis');
    expect(delivered).toEqual(['match:new@1', 'match:new@2']);
  });

  it('drops duplicates (seq ≤ last), whichever path they come from', async () => {
    const { delivered, metrics, sequencer } = await setup([matchEvent('m', 1)]);
    sequencer.accept(matchEvent('m', 2), 'redis');
    sequencer.accept(matchEvent('m', 2), 'postgres');
    sequencer.accept(matchEvent('m', 2), 'redis');
    expect(delivered).toEqual(['match:m@2']);
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

  it('reads on from a page its byte bound cut short, with no retry, skip or warning', async () => {
    const { outbox, delivered, sequencer, metrics } = await setup([matchEvent('m', 1)]);
    outbox.commit(...[2, 3, 4, 5, 6, 7].map((seq) => matchEvent('m', seq)));
    const read = outbox.readStream.bind(outbox);
    outbox.readStream = async (...args) => (await read(...args)).slice(0, 2); // 2 rows a page
    const warn = jest.spyOn(logger, 'warn');
    sequencer.accept(matchEvent('m', 7), 'redis');
    await sequencer.idle();
    expect(warn).not.toHaveBeenCalled();
    warn.mockRestore();
    expect(delivered).toEqual(['match:m@2', 'match:m@3', 'match:m@4', 'match:m@5', 'match:m@6', 'match:m@7']);
    expect(outbox.reads).toBe(3);
    expect(metrics.skipped.total).toBe(0);
  });

  it('reads the row of a reference (a payload too large for NOTIFY)', async () => {
    const { outbox, delivered, sequencer } = await setup();
    outbox.commit(matchEvent('m', 1, { big: 'x'.repeat(9000) }));
    sequencer.accept({ ref: true, id: '1001', stream: 'match:m', seq: 1 }, 'redis');
    await sequencer.idle();
    expect(delivered).toEqual(['match:m@1']);
  });

  it('passes over a row read from the outbox that the bus decoder refuses (as live), counting it; the stream goes on with no gap fill for it again', async () => {
    const { outbox, delivered, metrics, sequencer } = await setup([matchEvent('m', 1)]);
    // Written before 022: rows of a stream no channel names, and one whose match_id routing cannot trust.
    outbox.commit(matchEvent('old id', 1), matchEvent('old id', 2), { ...matchEvent('m', 2), match_id: 'other' }, matchEvent('m', 3));
    await sequencer.catchUp();
    expect(delivered).toEqual(['match:m@3']);
    expect(metrics.undeliverable.total).toBe(3);
    expect([sequencer.lastSeq('match:old id'), sequencer.lastSeq('match:m')]).toEqual([2, 3]);
    await sequencer.catchUp();
    expect(metrics.undeliverable.total).toBe(3);
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

  it('checks a claim against the head before reading: one beyond it costs no read of its own', async () => {
    const { outbox, metrics, sequencer } = await setup([matchEvent('m', 1)]);
    sequencer.accept({ ref: true, id: '9', stream: 'match:made-up', seq: 3 }, 'redis');
    sequencer.accept(matchEvent('m', 4), 'redis');
    await sequencer.idle();
    expect(metrics.claimsBeyondHead.total).toBe(2);
    expect(outbox.reads).toBe(0);
  });

  it('ends a catch-up once the streams it found behind are delivered, while fills of other streams go on', async () => {
    const { outbox, delivered, metrics, sequencer } = await setup([matchEvent('a', 1)]);
    sequencer.accept({ ref: true, id: '9', stream: 'match:made-up', seq: 3 }, 'redis'); // its head is re-read for a while
    outbox.commit(matchEvent('a', 2));
    expect(await sequencer.catchUp(60_000)).toBe(1);
    expect(delivered).toEqual(['match:a@2']);
    expect(metrics.claimsBeyondHead.total).toBe(0); // still being checked
    await sequencer.idle();
    expect(metrics.claimsBeyondHead.total).toBe(1);
  });

  it('catches up every stream that moved, and stops all work on close', async () => {
    const { outbox, delivered, sequencer } = await setup([matchEvent('a', 1)]);
    outbox.commit(matchEvent('a', 2), matchEvent('b', 1));
    expect(await sequencer.catchUp(60_000)).toBe(2);
    expect(delivered.sort()).toEqual(['match:a@2', 'match:b@1']);

    jest.useFakeTimers();
    try {
      outbox.failing = true;
      const tries = () => outbox.reads + outbox.headChecks; // a fill checks the head before it reads
      const triesBefore = tries();
      sequencer.accept(matchEvent('a', 5), 'redis'); // a gap the database cannot fill right now
      await jest.advanceTimersByTimeAsync(5_000);
      const triesBeforeClose = tries();
      expect(triesBeforeClose - triesBefore).toBeGreaterThan(1); // retrying, with backoff
      sequencer.close();
      await jest.advanceTimersByTimeAsync(30_000);
      expect(tries()).toBeLessThanOrEqual(triesBeforeClose + 1);
      await expect(sequencer.idle()).resolves.toBeUndefined();
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('Sequencer: user streams are followed only while tracked', () => {
  it('reads no user stream at init, drops and counts events of untracked user streams without reading the outbox', async () => {
    const { outbox, delivered, metrics, sequencer } = await setup([matchEvent('m', 1), userEvent('u1', 1), userEvent('u2', 4)]);
    expect(sequencer.trackedStreams()).toEqual({ user: 0, match: 1 });
    outbox.commit(userEvent('u1', 2));
    sequencer.accept(userEvent('u1', 2), 'redis');
    sequencer.accept({ ref: true, id: '9', stream: 'user:u2', seq: 5 }, 'redis');
    await sequencer.idle();
    expect(delivered).toEqual([]);
    expect(metrics.untracked.total).toBe(2);
    expect(metrics.received.total).toBe(2);
    expect(outbox.reads).toBe(0);
    expect(sequencer.trackedStreams()).toEqual({ user: 0, match: 1 });
  });

  it('learns a tracked stream\'s head, delivers only what comes after it, and forgets it when the last subscriber leaves', async () => {
    const { outbox, delivered, metrics, sequencer } = await setup([userEvent('u1', 1), userEvent('u1', 2)]);
    sequencer.track('user:u1');
    sequencer.track('user:u1'); // a second local subscriber
    sequencer.track('match:m'); // match streams are always followed: no-op
    await sequencer.known(['user:u1', 'match:m']);
    expect(sequencer.lastSeq('user:u1')).toBe(2);
    expect(sequencer.trackedStreams()).toEqual({ user: 1, match: 0 });
    outbox.commit(userEvent('u1', 3));
    sequencer.accept(userEvent('u1', 2), 'redis'); // late: before the subscribe
    sequencer.accept(userEvent('u1', 3), 'redis');
    expect(delivered).toEqual(['user:u1@3']);

    sequencer.untrack('user:u1');
    sequencer.accept(userEvent('u1', 4), 'redis');
    expect(delivered).toEqual(['user:u1@3', 'user:u1@4']); // one subscriber is still here
    sequencer.untrack('user:u1');
    sequencer.untrack('user:u1'); // more leaves than joins change nothing
    expect(sequencer.trackedStreams()).toEqual({ user: 0, match: 0 });
    expect(sequencer.lastSeq('user:u1')).toBe(0);
    sequencer.accept(userEvent('u1', 5), 'redis');
    expect(delivered).toHaveLength(2);
    expect(metrics.untracked.total).toBe(1);
  });

  it('while the head is read, remembers the highest seq claimed and reads what lies beyond the head, once and in order', async () => {
    const { outbox, delivered, metrics, sequencer } = await setup([userEvent('u1', 1), userEvent('u1', 2)]);
    const reads = outbox.holdHeadReads();
    sequencer.track('user:u1');
    let known = false;
    void sequencer.known(['user:u1']).then(() => (known = true));
    // The read's snapshot sees seq 3 committed; 4 and 5 commit after it and are notified before it answers.
    outbox.commit(userEvent('u1', 3), userEvent('u1', 4), userEvent('u1', 5));
    sequencer.accept(userEvent('u1', 3), 'redis');
    sequencer.accept(userEvent('u1', 5), 'redis');
    sequencer.accept(userEvent('u1', 4), 'postgres');
    expect(delivered).toEqual([]);
    expect(sequencer.trackedStreams()).toEqual({ user: 1, match: 0 });
    await tick();
    expect(reads).toHaveLength(1);
    reads[0]!.answer(3);
    await sequencer.known(['user:u1']);
    expect(known).toBe(true);
    sequencer.accept(userEvent('u1', 6), 'redis'); // live during the fill: waits for it
    outbox.commit(userEvent('u1', 6));
    await sequencer.idle();
    expect(delivered).toEqual(['user:u1@4', 'user:u1@5', 'user:u1@6']);
    expect(metrics.untracked.total).toBe(0);
  });

  it('drops claims at or below the head learnt (they committed before the subscribe)', async () => {
    const { outbox, delivered, sequencer } = await setup([userEvent('u1', 1)]);
    const reads = outbox.holdHeadReads();
    sequencer.track('user:u1');
    outbox.commit(userEvent('u1', 2));
    sequencer.accept(userEvent('u1', 2), 'redis');
    await tick();
    reads[0]!.answer(2);
    await sequencer.idle();
    expect(delivered).toEqual([]);
    expect(outbox.reads).toBe(0);
    sequencer.accept(userEvent('u1', 3), 'redis');
    expect(delivered).toEqual(['user:u1@3']);
  });

  it('discards a head read answered after the stream was forgotten, and a new subscriber learns afresh', async () => {
    const { outbox, delivered, sequencer } = await setup([userEvent('u1', 1)]);
    const reads = outbox.holdHeadReads();
    sequencer.track('user:u1');
    await tick();
    sequencer.untrack('user:u1');
    expect(sequencer.trackedStreams()).toEqual({ user: 0, match: 0 });
    sequencer.track('user:u1');
    await tick();
    reads[0]!.answer(1); // the forgotten read: ignored
    expect(sequencer.lastSeq('user:u1')).toBe(0);
    outbox.commit(userEvent('u1', 2));
    reads[1]!.answer(2);
    await sequencer.known(['user:u1']);
    expect(sequencer.lastSeq('user:u1')).toBe(2);
    sequencer.accept(userEvent('u1', 3), 'redis');
    expect(delivered).toEqual(['user:u1@3']);
    expect(sequencer.trackedStreams()).toEqual({ user: 1, match: 0 });
  });

  it('stops a fill of a stream forgotten mid-read; the stream tracked again fills on its own', async () => {
    const { outbox, delivered, sequencer } = await setup([userEvent('u1', 1)]);
    sequencer.track('user:u1');
    await sequencer.known(['user:u1']);
    outbox.commit(userEvent('u1', 2), userEvent('u1', 3));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const read = outbox.readStream.bind(outbox);
    outbox.readStream = async (...args) => {
      await gate;
      return read(...args);
    };
    sequencer.accept(userEvent('u1', 3), 'redis'); // a gap: the fill waits at the gate
    sequencer.untrack('user:u1');
    sequencer.track('user:u1'); // learns head 3 while the old read is out
    await sequencer.known(['user:u1']);
    release();
    await sequencer.idle();
    expect(delivered).toEqual([]);
    expect(sequencer.lastSeq('user:u1')).toBe(3);
    outbox.commit(userEvent('u1', 4));
    sequencer.accept(userEvent('u1', 4), 'redis');
    expect(delivered).toEqual(['user:u1@4']);
  });

  it('catches up match streams and tracked user streams, never the others', async () => {
    const { outbox, delivered, sequencer } = await setup([matchEvent('m', 1), userEvent('u1', 1), userEvent('u2', 1)]);
    sequencer.track('user:u1');
    await sequencer.known(['user:u1']);
    outbox.commit(matchEvent('m', 2), userEvent('u1', 2), userEvent('u2', 2), userEvent('u3', 1));
    expect(await sequencer.catchUp(60_000)).toBe(2);
    expect(delivered.sort()).toEqual(['match:m@2', 'user:u1@2']);
    expect(sequencer.trackedStreams()).toEqual({ user: 1, match: 1 });
  });

  it('reads the heads of the streams tracked in one turn with one query', async () => {
    const { outbox, sequencer } = await setup([userEvent('u1', 3), userEvent('u2', 1)]);
    for (let i = 0; i < 1000; i++) sequencer.track(`user:x${i}`);
    sequencer.track('user:u1');
    sequencer.track('user:u2');
    await sequencer.known(['user:u1', 'user:u2', 'user:x999']);
    expect(outbox.headReads).toBe(1);
    expect([sequencer.lastSeq('user:u1'), sequencer.lastSeq('user:u2'), sequencer.lastSeq('user:x999')]).toEqual([3, 1, 0]);
    expect(sequencer.trackedStreams()).toEqual({ user: 1002, match: 0 });
  });

  it('retries a failed head read until it succeeds', async () => {
    jest.useFakeTimers();
    try {
      const { outbox, sequencer } = await setup([userEvent('u1', 4)]);
      outbox.failing = true;
      sequencer.track('user:u1');
      let known = false;
      void sequencer.known(['user:u1']).then(() => (known = true));
      await jest.advanceTimersByTimeAsync(500);
      expect(known).toBe(false);
      outbox.failing = false;
      await jest.advanceTimersByTimeAsync(5_000);
      expect(known).toBe(true);
      expect(sequencer.lastSeq('user:u1')).toBe(4);
    } finally {
      jest.useRealTimers();
    }
  });
});
