/**
 * Decides when the next request to a provider may go out: never more than the source's own
 * budget per rolling minute, never while the provider said its quota is used up (its
 * rate-limit headers) or asked us to wait (Retry-After). acquire() waits for all three and
 * says why it waited, for the metrics.
 */
import { sleep } from '../pacer';

export type WaitReason = 'budget' | 'provider_quota' | 'retry_after';

export interface ProviderQuota {
  /** Requests left in the provider's current window (e.g. X-Requests-Available-Minute). */
  remaining?: number;
  /** Until the provider's window resets (e.g. X-RequestCounter-Reset, in seconds there). */
  resetMs?: number;
}

const WINDOW_MS = 60_000;

export class RequestGate {
  private readonly sent: number[] = [];
  private blockedUntil = 0;
  private blockReason: WaitReason = 'provider_quota';

  constructor(
    private readonly requestsPerMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Waits until a request may be sent, then counts it. Returns the reason it had to wait, if it did. */
  async acquire(signal: AbortSignal): Promise<{ waitedMs: number; reason?: WaitReason }> {
    const started = this.now();
    let reason: WaitReason | undefined;
    for (;;) {
      if (signal.aborted) break;
      const now = this.now();
      while (this.sent.length > 0 && (this.sent[0] as number) <= now - WINDOW_MS) this.sent.shift();
      const budgetFreeAt = this.sent.length < this.requestsPerMinute ? now : (this.sent[0] as number) + WINDOW_MS;
      const freeAt = Math.max(budgetFreeAt, this.blockedUntil);
      if (freeAt <= now) break;
      reason ??= this.blockedUntil >= budgetFreeAt ? this.blockReason : 'budget';
      await sleep(freeAt - now, signal);
    }
    this.sent.push(this.now());
    return { waitedMs: this.now() - started, reason };
  }

  /** The provider's quota headers of an answer: used up means no request until it resets. */
  noteQuota(quota: ProviderQuota): void {
    if (quota.remaining === 0 && quota.resetMs !== undefined) this.block(quota.resetMs, 'provider_quota');
  }

  /** A 429/503 with Retry-After. */
  noteRetryAfter(ms: number): void {
    this.block(ms, 'retry_after');
  }

  private block(ms: number, reason: WaitReason): void {
    const until = this.now() + ms;
    if (until > this.blockedUntil) {
      this.blockedUntil = until;
      this.blockReason = reason;
    }
  }
}

/** A quota from two headers: requests remaining, and seconds until the window resets. */
export function quotaFromHeaders(headers: Headers, remainingHeader: string, resetSecondsHeader: string): ProviderQuota {
  const remaining = Number(headers.get(remainingHeader) ?? NaN);
  const reset = Number(headers.get(resetSecondsHeader) ?? NaN);
  return {
    ...(Number.isInteger(remaining) && remaining >= 0 ? { remaining } : {}),
    // At most an hour: a broken header must not park the source for days.
    ...(Number.isFinite(reset) && reset >= 0 ? { resetMs: Math.min(reset, 3600) * 1000 } : {}),
  };
}
