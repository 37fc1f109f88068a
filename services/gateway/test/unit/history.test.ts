import type { OutboxEvent } from '@matchcast/protocol';
import { MemoryHistory, type HistoryLimits } from '../../src/delivery/history';
import { matchEvent, userEvent } from './fakes';

const WIDE: HistoryLimits = { eventsPerStream: 1000, bytesPerStream: 1 << 20, totalEvents: 100_000, totalBytes: 1 << 26 };

/** A history on a clock the test moves; start()ed at t = 10 000 ms. */
function history(limits: Partial<HistoryLimits> = {}) {
  const clock = { ms: 10_000 };
  const memory = new MemoryHistory({ ...WIDE, ...limits }, () => clock.ms);
  memory.start();
  return { memory, clock };
}

const at = (event: OutboxEvent, ms: number): OutboxEvent => ({ ...event, timestamp: new Date(ms).toISOString() });
const seqs = (events: OutboxEvent[]) => events.map((event) => event.seq);

describe('MemoryHistory', () => {
  it('reads a contiguous range from where it is asked, up to the bound, and nothing it does not hold', () => {
    const { memory } = history();
    for (let seq = 5; seq <= 9; seq++) memory.record(matchEvent('m1', seq));
    expect(memory.oldestSeq('match:m1')).toBe(5);
    expect(seqs(memory.read('match:m1', 4, 9))).toEqual([5, 6, 7, 8, 9]);
    expect(seqs(memory.read('match:m1', 6, 8))).toEqual([7, 8]);
    expect(seqs(memory.read('match:m1', 7, 100))).toEqual([8, 9]);
    expect(memory.read('match:m1', 3, 9)).toEqual([]); // seq 4 is older than what it holds
    expect(memory.read('match:m1', 9, 12)).toEqual([]); // nothing after the last
    expect(memory.read('match:m2', 0, 5)).toEqual([]);
  });

  it('restarts a stream whose seqs jump: it never holds a hole', () => {
    const { memory } = history();
    for (const seq of [1, 2, 3]) memory.record(matchEvent('m1', seq));
    memory.record(matchEvent('m1', 7)); // 4–6 were skipped (pruned)
    expect(memory.oldestSeq('match:m1')).toBe(7);
    expect(memory.read('match:m1', 2, 7)).toEqual([]);
    expect(seqs(memory.read('match:m1', 6, 7))).toEqual([7]);
    expect(memory.size()).toMatchObject({ events: 1, streams: 1 });
  });

  it('keeps at most eventsPerStream and bytesPerStream of a stream, dropping the oldest', () => {
    const byCount = history({ eventsPerStream: 3 }).memory;
    for (let seq = 1; seq <= 10; seq++) byCount.record(matchEvent('m1', seq));
    expect(byCount.oldestSeq('match:m1')).toBe(8);
    expect(seqs(byCount.read('match:m1', 7, 10))).toEqual([8, 9, 10]);

    const big = { note: 'x'.repeat(1000) };
    const byBytes = history({ bytesPerStream: 3000 }).memory;
    for (let seq = 1; seq <= 10; seq++) byBytes.record(matchEvent('m1', seq, big));
    expect(byBytes.oldestSeq('match:m1')).toBe(9); // two events of ~1.2 KB fit
    expect(byBytes.size().bytes).toBeLessThanOrEqual(3000);
    // An event bigger than the bound is not held at all, and the next one follows on.
    byBytes.record(matchEvent('m1', 11, { note: 'y'.repeat(5000) }));
    expect(byBytes.oldestSeq('match:m1')).toBeUndefined();
    byBytes.record(matchEvent('m1', 12));
    expect(byBytes.oldestSeq('match:m1')).toBe(12);
  });

  it('keeps at most totalEvents and totalBytes in all, dropping the oldest of any stream first', () => {
    const { memory } = history({ totalEvents: 4 });
    memory.record(matchEvent('m1', 1));
    memory.record(matchEvent('m2', 1));
    memory.record(matchEvent('m1', 2));
    memory.record(matchEvent('m2', 2));
    memory.record(matchEvent('m3', 1)); // the fifth: m1's seq 1 (the oldest) goes
    expect(memory.oldestSeq('match:m1')).toBe(2);
    expect(memory.oldestSeq('match:m2')).toBe(1);
    memory.record(matchEvent('m3', 2)); // then m2's seq 1
    expect(memory.oldestSeq('match:m2')).toBe(2);
    expect(memory.size()).toMatchObject({ events: 4 });

    const bytes = history({ totalBytes: 3000 }).memory;
    for (let seq = 1; seq <= 5; seq++) bytes.record(matchEvent(`m${seq}`, 1, { note: 'x'.repeat(800) }));
    expect(bytes.size().bytes).toBeLessThanOrEqual(3000);
    expect(bytes.oldestSeq('match:m1')).toBeUndefined();
    expect(bytes.oldestSeq('match:m5')).toBe(1);
  });

  it('holds nothing when turned off (0 events)', () => {
    const { memory } = history({ totalEvents: 0 });
    memory.record(matchEvent('m1', 1));
    expect(memory.read('match:m1', 0, 1)).toEqual([]);
    expect(memory.changedSince(20_000, { known: [], matchStreams: true, namedStreams: [] })).toBeUndefined();
  });

  it('forgets a private stream no longer followed, and knows one followed from its head on', () => {
    const { memory } = history();
    memory.follow('user:u1', 4);
    memory.record(userEvent('u1', 5));
    expect(seqs(memory.read('user:u1', 4, 5))).toEqual([5]);
    memory.forget('user:u1');
    expect(memory.oldestSeq('user:u1')).toBeUndefined();
    expect(memory.size()).toEqual({ events: 0, bytes: 0, streams: 0 });
  });

  describe('changedSince', () => {
    const scope = (known: string[] = [], namedStreams: string[] = []) => ({ known, matchStreams: true, namedStreams });

    it('answers like the outbox: each changed stream with the seq before its first event since then', () => {
      const { memory, clock } = history();
      clock.ms = 20_000;
      memory.record(at(matchEvent('m1', 1), 19_000));
      clock.ms = 30_000;
      memory.record(at(matchEvent('m1', 2), 29_000));
      memory.record(at(matchEvent('m1', 3), 29_500));
      memory.record(at(matchEvent('m2', 1), 29_600));
      const changed = memory.changedSince(25_000, scope());
      expect(changed?.map(({ stream, afterSeq }) => [stream, afterSeq]).sort()).toEqual([
        ['match:m1', 1],
        ['match:m2', 0],
      ]);
      expect(changed?.find((c) => c.stream === 'match:m2')?.routing.match_id).toBe('m2');
      // Streams the client resumes by name are left out; nothing changed since 29 700.
      expect(memory.changedSince(25_000, scope(['match:m1'])).map((c) => c.stream)).toEqual(['match:m2']);
      expect(memory.changedSince(29_700, scope())).toEqual([]);
    });

    it('finds an event created before a lower seq (a long transaction) as the outbox would', () => {
      const { memory, clock } = history();
      clock.ms = 30_000;
      memory.record(at(matchEvent('m1', 1), 24_000)); // began before `since`, committed after
      memory.record(at(matchEvent('m1', 2), 26_000));
      memory.record(at(matchEvent('m1', 3), 24_500));
      expect(memory.changedSince(25_000, scope())?.map((c) => c.afterSeq)).toEqual([1]);
    });

    it('does not answer for a time before it started, or before an event it dropped', () => {
      const { memory, clock } = history({ eventsPerStream: 2 });
      expect(memory.changedSince(9_000, scope())).toBeUndefined(); // before start(): events it never saw
      clock.ms = 30_000;
      for (let seq = 5; seq <= 8; seq++) memory.record(at(matchEvent('m1', seq), 20_000 + seq * 1000));
      // seq 5 and 6 (created at 25 000 and 26 000) were dropped: it cannot tell what came after 25 500.
      expect(memory.changedSince(25_500, scope())).toBeUndefined();
      expect(memory.changedSince(26_000, scope())?.map((c) => c.afterSeq)).toEqual([6]);
      // Not a match stream in scope: the dropped events do not matter.
      expect(memory.changedSince(25_500, { known: [], matchStreams: false, namedStreams: ['league:l1'] })).toEqual([]);
    });

    it('does not answer for a time before a public stream\'s seqs jumped (events it never saw)', () => {
      const { memory, clock } = history();
      clock.ms = 20_000;
      memory.record(at(matchEvent('m1', 1), 19_000));
      clock.ms = 30_000;
      memory.record(at(matchEvent('m1', 5), 29_000)); // 2–4 were never delivered: created any time before now
      expect(memory.changedSince(25_000, scope())).toBeUndefined();
      clock.ms = 40_000;
      memory.record(at(matchEvent('m1', 6), 39_000));
      expect(memory.changedSince(35_000, scope())?.map((c) => [c.stream, c.afterSeq])).toEqual([['match:m1', 5]]);
    });

    it('answers for a private stream only while it follows it', () => {
      const { memory, clock } = history();
      const named = { known: [], matchStreams: false, namedStreams: ['user:u1'] };
      expect(memory.changedSince(20_000, named)).toBeUndefined();
      memory.follow('user:u1', 3); // at 10 000
      clock.ms = 30_000;
      expect(memory.changedSince(20_000, named)).toEqual([]);
      memory.record(at(userEvent('u1', 4), 29_000));
      expect(memory.changedSince(20_000, named)?.map((c) => [c.stream, c.afterSeq])).toEqual([['user:u1', 3]]);
      // Followed since 10 000 (plus the clock allowance): earlier than that it cannot tell.
      expect(memory.changedSince(10_500, named)).toBeUndefined();
      memory.forget('user:u1');
      expect(memory.changedSince(20_000, named)).toBeUndefined();
    });
  });
});
