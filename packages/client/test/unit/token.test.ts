import { MIN_REFRESH_INTERVAL_MS, RefreshTimer, refreshDelay, tokenExpiryMs } from '../../src/token';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const jwt = (claims: Record<string, unknown>) => `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}.c2ln`;

describe('token expiry', () => {
  it('reads exp (seconds) from the payload, as ms, without verifying', () => {
    expect(tokenExpiryMs(jwt({ sub: 'u', exp: 1_900_000_000 }))).toBe(1_900_000_000_000);
  });

  it('decodes base64url payloads with - and _ and no padding, and UTF-8 claims', () => {
    const token = jwt({ sub: 'Zoë ~~~ ???>>>', name: 'ü'.repeat(7), exp: 1_800_000_001 });
    expect(token.split('.')[1]).toMatch(/[-_]/);
    expect(tokenExpiryMs(token)).toBe(1_800_000_001_000);
  });

  it('is undefined for a token without a numeric exp or that is no JWT', () => {
    expect(tokenExpiryMs(jwt({ sub: 'u' }))).toBeUndefined();
    expect(tokenExpiryMs(jwt({ sub: 'u', exp: '1900000000' }))).toBeUndefined();
    expect(tokenExpiryMs('opaque-token')).toBeUndefined();
    expect(tokenExpiryMs('a.%%%.c')).toBeUndefined();
    expect(tokenExpiryMs('')).toBeUndefined();
  });
});

describe('refresh scheduling', () => {
  it('refreshes leadMs before expiry, but no later than half the remaining life', () => {
    expect(refreshDelay(1_000_000 + 3_600_000, 1_000_000, 30_000)).toBe(3_570_000);
    expect(refreshDelay(1_000_000 + 4_000, 1_000_000, 30_000)).toBe(2_000);
    expect(refreshDelay(1_000_000, 1_000_000, 30_000)).toBe(0);
    expect(refreshDelay(900_000, 1_000_000, 30_000)).toBe(0);
  });

  describe('RefreshTimer (fake timers)', () => {
    beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
    afterEach(() => jest.useRealTimers());

    it('fires once at the scheduled time', () => {
      const due = jest.fn();
      const timer = new RefreshTimer(30_000, due);
      timer.schedule(Date.now() + 60_000);
      jest.advanceTimersByTime(29_999);
      expect(due).not.toHaveBeenCalled();
      jest.advanceTimersByTime(1);
      expect(due).toHaveBeenCalledTimes(1);
      expect(timer.pending).toBe(false);
    });

    it('rescheduling replaces the pending refresh (after `refreshed`)', () => {
      const due = jest.fn();
      const timer = new RefreshTimer(30_000, due);
      timer.schedule(Date.now() + 60_000);
      jest.advanceTimersByTime(10_000);
      timer.schedule(Date.now() + 3_600_000);
      jest.advanceTimersByTime(3_000_000);
      expect(due).not.toHaveBeenCalled();
      jest.advanceTimersByTime(570_000);
      expect(due).toHaveBeenCalledTimes(1);
    });

    it('never refreshes twice within MIN_REFRESH_INTERVAL_MS, whatever expiry it is given next', () => {
      const due = jest.fn();
      const timer = new RefreshTimer(30_000, due);
      timer.schedule(Date.now() + 4_000); // half-life: due in 2 s
      jest.advanceTimersByTime(2_000);
      expect(due).toHaveBeenCalledTimes(1);
      timer.schedule(Date.now() - 60_000); // "refreshed" with an expiry already past
      jest.advanceTimersByTime(MIN_REFRESH_INTERVAL_MS - 1);
      expect(due).toHaveBeenCalledTimes(1);
      jest.advanceTimersByTime(1);
      expect(due).toHaveBeenCalledTimes(2);
      timer.schedule(Date.now() + 1); // a millisecond away
      jest.advanceTimersByTime(MIN_REFRESH_INTERVAL_MS - 1);
      expect(due).toHaveBeenCalledTimes(2);
    });

    it('cancel and an unknown expiry leave nothing pending', () => {
      const due = jest.fn();
      const timer = new RefreshTimer(30_000, due);
      timer.schedule(Date.now() + 60_000);
      timer.cancel();
      timer.schedule(undefined);
      expect(timer.pending).toBe(false);
      jest.advanceTimersByTime(10 * 60_000);
      expect(due).not.toHaveBeenCalled();
    });

    it('re-arms waits longer than setTimeout allows instead of firing early', () => {
      const due = jest.fn();
      const timer = new RefreshTimer(30_000, due);
      const thirtyDays = 30 * 24 * 3_600_000;
      timer.schedule(Date.now() + thirtyDays);
      jest.advanceTimersByTime(2_147_483_647);
      expect(due).not.toHaveBeenCalled();
      expect(timer.pending).toBe(true);
      jest.advanceTimersByTime(thirtyDays - 30_000 - 2_147_483_647);
      expect(due).toHaveBeenCalledTimes(1);
    });
  });
});
