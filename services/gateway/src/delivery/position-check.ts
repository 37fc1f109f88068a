import { sleep, type Logger } from '@matchcast/runtime';
import type { Sequencer } from './sequencer';

/**
 * How long a stream found behind its committed head may still be catching up by itself (its
 * notification on the way, a gap fill running) before the check counts it as lost and reads it.
 */
const GRACE_MS = 2000;

export interface PositionCheckOptions {
  intervalMs: number;
  /** How far before the previous check the heads are read (transactions that committed late: CATCH_UP_MARGIN_MS). */
  marginMs: number;
}

/**
 * The last resort against loss: a gap is seen when a later event of the stream arrives, and every
 * known way of missing notifications (a path lost, a new listener leader, failed publishes) runs a
 * catch-up; but an event that no path carried for a reason nobody foresaw, when it is its
 * stream's last (a match's final whistle), would wait for the next event or switch. Every interval
 * this compares the committed heads of the streams that moved with what was delivered here, and
 * reads from the outbox what is still behind a moment later. A stream found that way is a loss
 * the design missed: it is counted and logged, so it can be found and fixed.
 */
export class PositionCheck {
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** When the last check that ran started; the next one reads the heads that moved since (plus the margin). */
  private lastCheckAt = Date.now();

  constructor(
    private readonly sequencer: Pick<Sequencer, 'behind' | 'recover'>,
    private readonly options: PositionCheckOptions,
    /** False while no path delivers: the catch-up after a path returns covers that time, and the check waits. */
    private readonly delivering: () => boolean,
    private readonly recovered: { inc(count: number): void },
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.schedule();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void this.check().finally(() => this.schedule()), this.options.intervalMs);
    this.timer.unref();
  }

  private async check(): Promise<void> {
    if (!this.delivering()) return;
    const startedAt = Date.now();
    try {
      const behind = await this.sequencer.behind(startedAt - this.lastCheckAt + this.options.marginMs);
      if (behind.size > 0) {
        await sleep(GRACE_MS);
        const lost = this.closed ? [] : await this.sequencer.recover(behind);
        if (lost.length > 0) {
          this.recovered.inc(lost.length);
          this.logger.warn({ streams: lost.length, sample: lost.slice(0, 5) }, 'position check: events no path delivered were read from the outbox');
        }
      }
      this.lastCheckAt = startedAt;
    } catch (error) {
      // The window is kept, so the next check covers this one's.
      this.logger.warn({ err: error }, 'position check failed; the next one covers its window');
    }
  }
}
