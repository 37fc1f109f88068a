import { Redis } from 'ioredis';
import { sleep } from '@matchcast/runtime';

/**
 * Freezes a Redis server the way SIGSTOP does (connections open, nothing answered), where
 * sending signals is not possible: `CLIENT PAUSE <ms> ALL`. Redis 7.0 postpones even
 * `CLIENT UNPAUSE` from a paused server's clients, so the pause is given its full length up
 * front and `waitForEnd()` waits it out.
 */
export class RedisPause {
  private endsAt = 0;

  constructor(private readonly url: string) {}

  async pause(forMs: number): Promise<void> {
    const redis = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 5000 });
    try {
      await redis.connect();
      await redis.call('CLIENT', 'PAUSE', String(Math.max(1, Math.round(forMs))), 'ALL');
      this.endsAt = Date.now() + forMs;
    } finally {
      redis.disconnect();
    }
  }

  /** Resolves when the pause is over (at once when none is running). */
  async waitForEnd(): Promise<void> {
    const left = this.endsAt - Date.now();
    if (left > 0) await sleep(left);
  }
}
