import { EventEmitter } from 'node:events';
import { ProtocolError } from '@matchcast/protocol';
import type { Response } from 'express';
import { CallerSlots } from '../../src/http/caller-slots';

/** A response as CallerSlots sees one: end() answers it (and closes it); a client that leaves closes it unanswered. */
const response = () => {
  const res = new EventEmitter() as EventEmitter & Response;
  res.end = (() => res.emit('close') && res) as Response['end'];
  return res;
};

describe('CallerSlots', () => {
  it('runs a caller\'s requests `perCaller` at a time, the next in arrival order as each is answered; other callers are not held', () => {
    const slots = new CallerSlots(2, 5000);
    const started: string[] = [];
    const responses = ['a1', 'a2', 'a3', 'a4'].map((name) => {
      const res = response();
      slots.admit('user:a', res, () => started.push(name));
      return res;
    });
    slots.admit('user:b', response(), () => started.push('b1'));
    expect(started).toEqual(['a1', 'a2', 'b1']);
    responses[0]!.end();
    expect(started).toEqual(['a1', 'a2', 'b1', 'a3']);
    // A waiting request whose client left is never started; a running one's slot is held until it is answered.
    responses[3]!.emit('close');
    responses[1]!.emit('close');
    slots.admit('user:a', response(), () => started.push('a5'));
    expect(started).toEqual(['a1', 'a2', 'b1', 'a3']);
    responses[1]!.end();
    expect(started).toEqual(['a1', 'a2', 'b1', 'a3', 'a5']);
    responses[2]!.end();
    expect(slots.size).toBe(2); // b's request and a5 are still running
  });

  it('refuses a request that waited maxWaitMs with RATE_LIMITED, and forgets the caller once nothing of it runs or waits', async () => {
    const slots = new CallerSlots(1, 30);
    const running = response();
    slots.admit('address:10.0.0.1', running, () => undefined);
    const refused = await new Promise<unknown>((resolve) => slots.admit('address:10.0.0.1', response(), resolve));
    expect(refused).toBeInstanceOf(ProtocolError);
    expect(refused).toMatchObject({ code: 'RATE_LIMITED' });
    running.end();
    expect(slots.size).toBe(0);
  });

  it('holds nothing for callers after a flood of many distinct ones has closed', () => {
    const slots = new CallerSlots(1, 5000);
    const open = Array.from({ length: 10_000 }, (_, i) => {
      const res = response();
      slots.admit(`user:u${i % 5000}`, res, () => undefined);
      return res;
    });
    expect(slots.size).toBe(5000);
    for (const res of open) res.end();
    expect(slots.size).toBe(0);
  });
});
