/**
 * A token bucket per connection: `perSecond` messages a second with a burst of twice that.
 * A client that keeps flooding after being told (RATE_LIMITED errors) is disconnected.
 */
export class RateLimiter {
  private tokens: number;
  private updatedAt = Date.now();
  private refusals = 0;

  constructor(private readonly perSecond: number) {
    this.tokens = perSecond * 2;
  }

  take(): boolean {
    const now = Date.now();
    this.tokens = Math.min(this.perSecond * 2, this.tokens + ((now - this.updatedAt) / 1000) * this.perSecond);
    this.updatedAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      this.refusals = 0;
      return true;
    }
    this.refusals++;
    return false;
  }

  /** Refused this many times in a row: stop answering and cut the connection. */
  abusive(): boolean {
    return this.refusals > this.perSecond * 5;
  }
}
