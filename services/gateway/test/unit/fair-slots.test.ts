import { FairSlots, type Turn } from '../../src/sessions/fair-slots';

/** Work that finishes when the test says so, recording the order it started in. */
function controlledWork() {
  const started: string[] = [];
  const running: (() => void)[] = [];
  const work = (name: string) => () =>
    new Promise<string>((resolve) => {
      started.push(name);
      running.push(() => resolve(name));
    });
  /** Finishes the oldest running work, then lets the slot pass on. */
  const finishOne = async () => {
    running.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
  };
  const finishRest = async () => {
    while (running.length > 0) await finishOne();
  };
  return { work, started, finishOne, finishRest };
}

describe('FairSlots', () => {
  it('runs at once while slots are free, then serves waiting groups in turns: a queue of one group holds another back by one turn', async () => {
    const slots = new FairSlots(2);
    const { work, started, finishOne, finishRest } = controlledWork();
    const runs = [
      ...['a1', 'a2', 'a3', 'a4', 'a5', 'a6'].map((name) => slots.run('192.0.2.1', work(name))),
      slots.run('198.51.100.7', work('b1')),
      slots.run('198.51.100.7', work('b2')),
      slots.run('gateway', work('g1')),
    ];
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual(['a1', 'a2']);
    while (started.length < runs.length) await finishOne();
    // After the two free slots: each group in the order it first waited, one at a time.
    expect(started).toEqual(['a1', 'a2', 'a3', 'b1', 'g1', 'a4', 'b2', 'a5', 'a6']);
    await finishRest();
    expect(await Promise.all(runs)).toEqual(['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'b1', 'b2', 'g1']);
  });

  it('starts a waiting run that another group joined in the first of their turns, and passes over it in the other queue', async () => {
    const slots = new FairSlots(1);
    const { work, started, finishOne, finishRest } = controlledWork();
    let shared: Turn | undefined;
    const runs = [
      ...['a1', 'a2', 'a3', 'a4'].map((name) => slots.run('192.0.2.1', work(name))),
      // Queued behind a's own: a bystander that shares its result (SharedReads) joins it.
      slots.run('192.0.2.1', work('shared'), (turn) => (shared = turn)),
    ];
    shared!.join('198.51.100.7');
    shared!.join('198.51.100.7');
    runs.push(slots.run('198.51.100.7', work('b1')));
    await new Promise((resolve) => setImmediate(resolve));
    while (started.length < runs.length) await finishOne();
    // b's turn comes after a2's: it starts the shared run, and b1 in b's next one; a's queue skips it.
    expect(started).toEqual(['a1', 'a2', 'shared', 'a3', 'b1', 'a4']);
    await finishRest();
    await Promise.all(runs);
    // The slot came back once, not again when the skipped entry was reached: one run at a time still.
    const after = [slots.run('192.0.2.1', work('c1')), slots.run('192.0.2.1', work('c2'))];
    await new Promise((resolve) => setImmediate(resolve));
    expect(started.slice(6)).toEqual(['c1']);
    await finishRest();
    await Promise.all(after);
  });

  it('frees the slot when work fails', async () => {
    const slots = new FairSlots(1);
    await expect(slots.run('192.0.2.1', () => Promise.reject(new Error('query failed')))).rejects.toThrow('query failed');
    await expect(slots.run('192.0.2.1', () => Promise.resolve('next'))).resolves.toBe('next');
  });
});
