import { performance } from 'node:perf_hooks';

/**
 * Releases work at fixed offsets from a start time. Offsets are measured from one base, never
 * from the previous release, so timer jitter does not accumulate into drift. When the consumer
 * falls further behind than `maxLagMs` (a database outage), the base moves forward instead of
 * releasing a burst of everything that is overdue.
 */
export class Pacer {
  private base: number | undefined;

  constructor(
    /** Feed milliseconds per wall millisecond; 0 = never wait. */
    private readonly speed = 1,
    private readonly maxLagMs = 1000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Resolves when `offsetMs` of feed time has passed since the first call (or on abort). */
  async waitUntil(offsetMs: number, signal?: AbortSignal): Promise<void> {
    if (this.speed === 0 || signal?.aborted) return;
    const now = this.now();
    this.base ??= now;
    const target = this.base + offsetMs / this.speed;
    const late = now - target;
    if (late > this.maxLagMs) {
      this.base += late;
      return;
    }
    if (target > now) await sleep(target - now, signal);
  }
}

/** setTimeout that an AbortSignal cuts short (resolving, not rejecting). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
