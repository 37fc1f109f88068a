import { ProtocolError } from '@matchcast/protocol';
import { decodeCursor, encodeCursor } from '../../src/http/cursor';
import { classifyDatabaseError } from '../../src/http/db-errors';
import { followTarget, isBigintId, notificationId } from '../../src/http/params';

describe('cursor', () => {
  it('round-trips an id and is opaque', () => {
    const cursor = encodeCursor('9223372036854775807');
    expect(cursor).not.toContain('9223');
    expect(decodeCursor(cursor)).toBe('9223372036854775807');
  });

  it.each(['', '!!!', 'bjEu', encodeCursor('1').slice(0, -2), Buffer.from('n2.5').toString('base64url'), 'x'.repeat(65)])('refuses %j', (cursor) => {
    expect(() => decodeCursor(cursor)).toThrow(ProtocolError);
  });
});

describe('params', () => {
  it('accepts bigint ids only', () => {
    expect(isBigintId('0')).toBe(true);
    expect(isBigintId('9223372036854775807')).toBe(true);
    expect(isBigintId('9223372036854775808')).toBe(false);
    for (const bad of ['', '-1', '+1', '1.0', ' 1', '١']) expect(isBigintId(bad)).toBe(false);
    expect(() => notificationId(['1'])).toThrow(ProtocolError);
  });

  it('accepts follow kinds and ids', () => {
    expect(followTarget('league', 'epl')).toEqual({ kind: 'league', id: 'epl' });
    expect(() => followTarget('constructor', 'x')).toThrow(/kind/);
    expect(() => followTarget('team', ['a'])).toThrow(/id/);
  });
});

describe('classifyDatabaseError', () => {
  it('makes unavailability a retryable 503', () => {
    for (const error of [
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' }),
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
      Object.assign(new Error('too many clients'), { code: '53300' }),
      new Error('timeout exceeded when trying to connect'),
      new Error('Connection terminated unexpectedly'),
    ]) {
      expect(classifyDatabaseError(error)?.code).toBe('UNAVAILABLE');
    }
  });

  it('names the column of a check constraint; a data exception is BAD_REQUEST; leaves anything else alone', () => {
    const failure = classifyDatabaseError(Object.assign(new Error('check'), { code: '23514', constraint: 'notification_data_check' }));
    expect(failure?.code).toBe('VALIDATION_FAILED');
    expect(failure?.fields).toEqual({ data: 'is not accepted by the database' });
    expect(classifyDatabaseError(Object.assign(new Error('syntax'), { code: '42601' }))).toBeUndefined();
    expect(classifyDatabaseError(Object.assign(new Error('date/time field value out of range'), { code: '22008' }))?.code).toBe('BAD_REQUEST');
    expect(classifyDatabaseError(new TypeError('x'))).toBeUndefined();
  });
});
