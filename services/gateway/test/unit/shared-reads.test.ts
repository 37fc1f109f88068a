import type { OutboxEvent } from '@matchcast/protocol';
import { SharedReads } from '../../src/sessions/shared-reads';
import { matchEvent } from './fakes';

/** An outbox read that completes when the test says so, recording what was asked. */
function controlledRead(rowsOf: (after: number, upto: number) => OutboxEvent[]) {
  const asked: [number, number][] = [];
  const pending: (() => void)[] = [];
  const read = (_stream: string, after: number, upto: number, alive: () => boolean) => {
    asked.push([after, upto]);
    return new Promise<OutboxEvent[] | undefined>((resolve) => pending.push(() => resolve(alive() ? rowsOf(after, upto) : undefined)));
  };
  return { read, asked, release: () => pending.splice(0).forEach((go) => go()) };
}

const rows = (after: number, upto: number) => Array.from({ length: upto - after }, (_, i) => matchEvent('m1', after + 1 + i));
const seqs = (events: OutboxEvent[] | undefined) => events?.map((event) => event.seq);

describe('SharedReads', () => {
  it('sends one read for many asking the same range or one it covers, each getting its own part', async () => {
    const db = controlledRead(rows);
    const reads = new SharedReads(db.read, 100);
    const same = Array.from({ length: 50 }, () => reads.get('match:m1', 10, 20, () => true));
    const inner = reads.get('match:m1', 15, 18, () => true);
    db.release();
    for (const got of await Promise.all(same)) expect(seqs(got)).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    expect(seqs(await inner)).toEqual([16, 17, 18]);
    expect(db.asked).toEqual([[10, 20]]);
  });

  it('reads again for a range not covered, another stream, or once the shared read is over', async () => {
    const db = controlledRead(rows);
    const reads = new SharedReads(db.read, 100);
    const first = reads.get('match:m1', 10, 20, () => true);
    const earlier = reads.get('match:m1', 5, 20, () => true); // starts before the running read
    const later = reads.get('match:m1', 10, 25, () => true); // ends after it
    const other = reads.get('match:m2', 10, 20, () => true);
    db.release();
    await Promise.all([first, earlier, later, other]);
    const again = reads.get('match:m1', 10, 20, () => true);
    db.release();
    await again;
    expect(db.asked).toEqual([[10, 20], [5, 20], [10, 25], [10, 20], [10, 20]]);
  });

  it('joins only a read whose row limit reaches the end of the range asked', async () => {
    const db = controlledRead(rows);
    const reads = new SharedReads(db.read, 5);
    const first = reads.get('match:m1', 0, 100, () => true); // rows 1–5 only
    const beyond = reads.get('match:m1', 4, 100, () => true); // needs 5–9
    const within = reads.get('match:m1', 2, 4, () => true);
    db.release();
    expect(seqs(await first)).toEqual([1, 2, 3, 4, 5]);
    expect(seqs(await beyond)).toEqual([5, 6, 7, 8, 9]);
    expect(seqs(await within)).toEqual([3, 4]);
    expect(db.asked).toEqual([[0, 5], [4, 9]]);
  });

  it('goes on while any waiter is alive, and is dropped when none is', async () => {
    const db = controlledRead(rows);
    const reads = new SharedReads(db.read, 100);
    const left = reads.get('match:m1', 0, 3, () => false);
    const stays = reads.get('match:m1', 0, 3, () => true);
    db.release();
    expect(seqs(await stays)).toEqual([1, 2, 3]);
    await left;
    const gone = reads.get('match:m1', 0, 3, () => false);
    db.release();
    expect(await gone).toBeUndefined();
  });
});
