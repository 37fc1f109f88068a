import type { OutboxEvent } from '@matchcast/protocol';
import { StreamGate } from '../../src/sessions/stream-gate';

const event = (stream: string, seq: number) => ({ stream, seq }) as OutboxEvent;

describe('StreamGate', () => {
  it("holds a stream's events, the first and those after it, until its read settles, then delivers them in order; other streams pass; a held stream's delivered seq is before them", async () => {
    const delivered: string[] = [];
    const reads: Array<{ stream: string; done: () => void; fail: (error: Error) => void }> = [];
    const gate = new StreamGate(
      (e) => e.stream === 'team:new' && e.seq === 1,
      (stream) => new Promise<void>((done, fail) => reads.push({ stream, done, fail })).catch(() => undefined),
      (e) => delivered.push(`${e.stream}#${e.seq}`),
    );
    gate.push(event('team:new', 1));
    gate.push(event('match:m1', 1));
    gate.push(event('team:new', 2));
    expect(delivered).toEqual(['match:m1#1']);
    expect(reads.map((r) => r.stream)).toEqual(['team:new']);
    expect(gate.deliveredSeq('team:new')).toBe(0);
    expect(gate.deliveredSeq('match:m1')).toBeUndefined();
    reads[0]!.done();
    await new Promise((resolve) => setImmediate(resolve));
    expect(delivered).toEqual(['match:m1#1', 'team:new#1', 'team:new#2']);
    expect(gate.deliveredSeq('team:new')).toBeUndefined();
    gate.push(event('team:new', 3));
    expect(delivered).toEqual(['match:m1#1', 'team:new#1', 'team:new#2', 'team:new#3']);
    // A failed read lets the events go on (the caller logs it).
    const failing = new StreamGate(() => true, (stream) => Promise.reject(new Error(stream)).catch(() => undefined), (e) => delivered.push(`${e.stream}#${e.seq}`));
    failing.push(event('league:x', 4));
    await new Promise((resolve) => setImmediate(resolve));
    expect(delivered.at(-1)).toBe('league:x#4');
  });

  it('lets a stream\'s events go once it waited maxWaitMs for a read that does not settle (in order, once; the late answer delivers nothing again)', async () => {
    const delivered: number[] = [];
    const gaveUp: string[] = [];
    let answer = () => undefined as void;
    const gate = new StreamGate(
      (e) => e.seq === 1,
      () => new Promise<void>((done) => (answer = done)),
      (e) => delivered.push(e.seq),
      { maxWaitMs: 20, gaveUp: (stream) => gaveUp.push(stream) },
    );
    gate.push(event('team:t', 1));
    gate.push(event('team:t', 2));
    expect(delivered).toEqual([]);
    for (let i = 0; i < 100 && delivered.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(delivered).toEqual([1, 2]);
    expect(gaveUp).toEqual(['team:t']);
    expect(gate.deliveredSeq('team:t')).toBeUndefined();
    answer();
    await new Promise((resolve) => setImmediate(resolve));
    gate.push(event('team:t', 3));
    expect(delivered).toEqual([1, 2, 3]);
  });
});
