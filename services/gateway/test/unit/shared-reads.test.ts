import type { OutboxEvent } from '@matchcast/protocol';
import type { Caller } from '../../src/sessions/replay';
import { SharedReads } from '../../src/sessions/shared-reads';
import { matchEvent } from './fakes';

/** An outbox read that completes when the test says so, recording what was asked. */
function controlledRead(rowsOf: (after: number, upto: number) => OutboxEvent[]) {
  const asked: [number, number][] = [];
  const pending: (() => void)[] = [];
  const groups: string[] = [];
  const read = (_stream: string, after: number, upto: number, caller: Caller) => {
    asked.push([after, upto]);
    groups.push(caller.group);
    return new Promise<OutboxEvent[] | undefined>((resolve) => pending.push(() => resolve(caller.alive() ? rowsOf(after, upto) : undefined)));
  };
  return { read, asked, groups, release: () => pending.splice(0).forEach((go) => go()) };
}

const rows = (after: number, upto: number) => Array.from({ length: upto - after }, (_, i) => matchEvent('m1', after + 1 + i));
const present: Caller = { group: '192.0.2.1', alive: () => true };
const left: Caller = { group: '192.0.2.2', alive: () => false };
const seqs = (events: OutboxEvent[] | undefined) => events?.map((event) => event.seq);

describe('SharedReads', () => {
  it('sends one read for many asking the same range or one it covers, each getting its own part', async () => {
    const db = controlledRead(rows);
    const reads = new SharedReads(db.read, 100);
    const same = Array.from({ length: 50 }, () => reads.get('match:m1', 10, 20, present));
    const inner = reads.get('match:m1', 15, 18, { group: '198.51.100.7', alive: () => true });
    db.release();
    for (const got of await Promise.all(same)) expect(seqs(got)).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    expect(seqs(await inner)).toEqual([16, 17, 18]);
    expect(db.asked).toEqual([[10, 20]]);
    expect(db.groups).toEqual(['192.0.2.1']); // in the turn of the one that asked first
  });

  it('a page cut short by its byte bound before a joiner\'s range begins: the joiner reads on its own instead of seeing no rows', async () => {
    const db = controlledRead((after, upto) => rows(after, Math.min(upto, after + 3))); // each page holds 3 rows
    const reads = new SharedReads(db.read, 100);
    const first = reads.get('match:m1', 10, 20, present);
    const inner = reads.get('match:m1', 12, 20, present); // covered by the range asked, partly by the rows
    const past = reads.get('match:m1', 15, 20, present); // past where the page will end
    db.release();
    expect(seqs(await first)).toEqual([11, 12, 13]);
    expect(seqs(await inner)).toEqual([13]);
    await new Promise((resolve) => setImmediate(resolve));
    db.release();
    expect(seqs(await past)).toEqual([16, 17, 18]);
    expect(db.asked).toEqual([[10, 20], [15, 20]]);
  });

  it('reads again for a range not covered, another stream, or once the shared read is over', async () => {
    const db = controlledRead(rows);
    const reads = new SharedReads(db.read, 100);
    const first = reads.get('match:m1', 10, 20, present);
    const earlier = reads.get('match:m1', 5, 20, present); // starts before the running read
    const later = reads.get('match:m1', 10, 25, present); // ends after it
    const other = reads.get('match:m2', 10, 20, present);
    db.release();
    await Promise.all([first, earlier, later, other]);
    const again = reads.get('match:m1', 10, 20, present);
    db.release();
    await again;
    expect(db.asked).toEqual([[10, 20], [5, 20], [10, 25], [10, 20], [10, 20]]);
  });

  it('joins only a read whose row limit reaches the end of the range asked', async () => {
    const db = controlledRead(rows);
    const reads = new SharedReads(db.read, 5);
    const first = reads.get('match:m1', 0, 100, present); // rows 1–5 only
    const beyond = reads.get('match:m1', 4, 100, present); // needs 5–9
    const within = reads.get('match:m1', 2, 4, present);
    db.release();
    expect(seqs(await first)).toEqual([1, 2, 3, 4, 5]);
    expect(seqs(await beyond)).toEqual([5, 6, 7, 8, 9]);
    expect(seqs(await within)).toEqual([3, 4]);
    expect(db.asked).toEqual([[0, 5], [4, 9]]);
  });

  it('goes on while any waiter is alive, and is dropped when none is', async () => {
    const db = controlledRead(rows);
    const reads = new SharedReads(db.read, 100);
    const leaving = reads.get('match:m1', 0, 3, left);
    const stays = reads.get('match:m1', 0, 3, present);
    db.release();
    expect(seqs(await stays)).toEqual([1, 2, 3]);
    await leaving;
    const gone = reads.get('match:m1', 0, 3, left);
    db.release();
    expect(await gone).toBeUndefined();
  });
});
