import { RequestGate, parseRetryAfter } from '../../src';

describe('RequestGate', () => {
  it('keeps to the per-minute budget: a request over it waits for the oldest to leave the window', async () => {
    let shift = 0;
    const gate = new RequestGate(2, () => Date.now() + shift);
    const never = new AbortController().signal;
    expect(await gate.acquire(never)).toEqual({ waitedMs: expect.any(Number), reason: undefined });
    await gate.acquire(never);
    shift = 59_850; // the first two requests leave the 60 s window 150 ms from "now"
    const third = await gate.acquire(never);
    expect(third.reason).toBe('budget');
    expect(third.waitedMs).toBeGreaterThanOrEqual(100);
  });

  it("waits out the provider's quota reset and Retry-After, naming the reason", async () => {
    const gate = new RequestGate(100);
    const never = new AbortController().signal;
    gate.noteQuota({ remaining: 3, resetMs: 5000 }); // quota left: no wait
    expect((await gate.acquire(never)).reason).toBeUndefined();
    gate.noteQuota({ remaining: 0, resetMs: 120 });
    const quota = await gate.acquire(never);
    expect(quota).toMatchObject({ reason: 'provider_quota' });
    expect(quota.waitedMs).toBeGreaterThanOrEqual(100);
    gate.noteRetryAfter(120);
    expect(await gate.acquire(never)).toMatchObject({ reason: 'retry_after' });
  });

  it('stops waiting when the signal aborts', async () => {
    const gate = new RequestGate(100);
    gate.noteRetryAfter(60_000);
    const started = Date.now();
    await gate.acquire(AbortSignal.timeout(50));
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates, clamps, and ignores junk', () => {
    const now = Date.parse('2026-05-01T12:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Fri, 01 May 2026 12:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Fri, 01 May 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('999999', now)).toBe(15 * 60_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
