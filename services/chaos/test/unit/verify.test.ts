import type { RecordedMessage } from '../../src/recorder';
import { countDeliveries, expectedKeys } from '../../src/verify';

const row = (stream: string, seq: number, league: string, status = 'live') => ({
  id: String(seq),
  stream,
  seq,
  match_id: stream.slice('match:'.length),
  data: { status, league: { id: league, name: league }, home_team: { id: 'h', name: 'H' }, away_team: { id: 'a', name: 'A' } },
});
const got = (stream: string, seq: number): RecordedMessage => ({ type: 'match_update', stream, seq });

describe('expectedKeys', () => {
  it('keeps the rows routed to one of the channels', () => {
    const rows = [row('match:m1', 1, 'l1'), row('match:m2', 1, 'l2', 'finished'), row('match:m1', 2, 'l1', 'finished')];
    expect([...expectedKeys(rows, ['league:l1'])]).toEqual(['match:m1@1', 'match:m1@2']);
    expect([...expectedKeys(rows, ['live:all'])]).toEqual(['match:m1@1']);
    expect(expectedKeys(rows, ['all']).size).toBe(3);
  });
});

describe('countDeliveries', () => {
  const expected = new Set(['match:a@1', 'match:a@2', 'match:a@3', 'match:b@1']);

  it('passes exactly-once in-order delivery and ignores what is outside the window', () => {
    const messages = [{ type: 'subscribed' }, got('match:a', 1), got('match:b', 1), got('match:a', 2), got('match:a', 3), got('match:z', 9)];
    expect(countDeliveries(expected, messages)).toEqual({ expected: 4, received: 4, lost: 0, duplicated: 0, outOfOrder: 0 });
  });

  it('counts lost, duplicated and out-of-order deliveries', () => {
    const messages = [got('match:a', 2), got('match:a', 1), got('match:a', 2)];
    expect(countDeliveries(expected, messages)).toEqual({ expected: 4, received: 3, lost: 2, duplicated: 1, outOfOrder: 1 });
  });
});
