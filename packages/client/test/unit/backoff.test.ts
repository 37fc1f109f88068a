import { backoffDelay, closeAction, reconnectDelay, DEFAULT_BACKOFF } from '../../src/backoff';

const options = { baseMs: 100, maxMs: 5000, drainJitterMs: 1000 };

describe('backoff', () => {
  it('is full jitter: 0 with random 0, just under the ceiling with random → 1', () => {
    expect(backoffDelay(0, options, () => 0)).toBe(0);
    expect(backoffDelay(0, options, () => 0.999999)).toBe(99);
    expect(backoffDelay(3, options, () => 0.999999)).toBe(799);
  });

  it('doubles the ceiling per attempt and never exceeds maxMs', () => {
    const ceilings = [0, 1, 2, 3, 4, 5, 6, 10, 50, 5000].map((attempt) => backoffDelay(attempt, options, () => 0.9999999) + 1);
    expect(ceilings.slice(0, 6)).toEqual([100, 200, 400, 800, 1600, 3200]);
    for (const ceiling of ceilings) expect(ceiling).toBeLessThanOrEqual(5000);
    expect(ceilings.at(-1)).toBe(5000);
  });

  it('stays within [0, ceiling) for random draws', () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      for (let i = 0; i < 200; i++) {
        const delay = backoffDelay(attempt, options);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(Math.min(options.maxMs, options.baseMs * 2 ** attempt));
      }
    }
  });

  it('spreads delays (jitter), not one fixed value', () => {
    const delays = new Set(Array.from({ length: 50 }, () => backoffDelay(5, options)));
    expect(delays.size).toBeGreaterThan(10);
  });

  it('reconnects a drained connection (1012) within drainJitterMs whatever the attempt', () => {
    for (let i = 0; i < 200; i++) {
      const delay = reconnectDelay('drain', 20, options);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(1000);
    }
    expect(reconnectDelay('retry', 20, options, () => 0.9999)).toBeGreaterThan(1000);
  });

  it('spreads the first reconnect after an open connection was lost over lostJitterMs, whatever the attempt', () => {
    const spread = { ...options, lostJitterMs: 2000 };
    const delays = Array.from({ length: 400 }, () => reconnectDelay('lost', 0, spread));
    for (const delay of delays) {
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(2000);
    }
    // Spread over the window, not bunched at its start as a storm's first retries were ([0, baseMs)).
    expect(delays.filter((delay) => delay >= 1000).length).toBeGreaterThan(100);
    expect(reconnectDelay('lost', 0, spread, () => 0.9999)).toBe(1999);
    expect(reconnectDelay('lost', 7, spread, () => 0.9999)).toBe(1999);
  });

  it('classifies closes: 1012 drain, 4001/401 auth, 4003/403 fatal, the rest lost (had opened) or retry', () => {
    for (const code of [1000, 1001, 1006, 1011, 4008]) expect(closeAction(code, undefined, true)).toBe('lost');
    expect(closeAction(1012, undefined, true)).toBe('drain');
    expect(closeAction(4001, undefined, true)).toBe('auth');
    expect(closeAction(4003, undefined, true)).toBe('fatal');
    expect(closeAction(1012)).toBe('drain');
    expect(closeAction(4001)).toBe('auth');
    expect(closeAction(1006, 401)).toBe('auth');
    expect(closeAction(4003)).toBe('fatal');
    expect(closeAction(1006, 403)).toBe('fatal');
    for (const code of [1000, 1001, 1006, 1008, 1009, 1011, 1013, 4008]) expect(closeAction(code)).toBe('retry');
    expect(closeAction(1006, 429)).toBe('retry');
    expect(closeAction(1006, 503)).toBe('retry');
  });

  it('has sane defaults', () => {
    expect(DEFAULT_BACKOFF.baseMs).toBeLessThan(DEFAULT_BACKOFF.maxMs);
    expect(DEFAULT_BACKOFF.drainJitterMs).toBeLessThanOrEqual(1000);
    expect(DEFAULT_BACKOFF.lostJitterMs).toBeGreaterThan(DEFAULT_BACKOFF.baseMs);
    expect(DEFAULT_BACKOFF.lostJitterMs).toBeLessThanOrEqual(3000);
  });
});
