import { TokenBucket } from '@matchcast/runtime';

/**
 * Messages per connection: `perSecond` a second with a burst of twice that. A client that
 * keeps flooding after being told (RATE_LIMITED errors) is disconnected. (A bucket itself,
 * not a holder of one: one object less per connection.)
 */
export class RateLimiter extends TokenBucket {
  private refusals = 0;

  constructor(private readonly messagesPerSecond: number) {
    super(messagesPerSecond);
  }

  override take(): boolean {
    if (super.take()) {
      this.refusals = 0;
      return true;
    }
    this.refusals++;
    return false;
  }

  /** Refused this many times in a row: stop answering and cut the connection. */
  abusive(): boolean {
    return this.refusals > this.messagesPerSecond * 5;
  }
}
