/**
 * Runs a source only while this process leads (leadership.ts). Every term of leadership gets
 * a fresh source from the factory, so nothing a former term polled or queued is handed on
 * after the lock was lost; a lost term aborts the source's request in flight at once. The
 * writer's diff (reconcile.ts) makes a change that two terms both write land once.
 */
import type { FeedOp } from '../feed';
import type { CrawlerLeadership } from '../leadership';
import type { FeedSource } from './source';

export class LeaderGatedSource implements FeedSource {
  private inner: FeedSource | undefined;
  private term = new AbortController();

  constructor(
    private readonly create: () => Promise<FeedSource> | FeedSource,
    private readonly leadership: CrawlerLeadership,
    readonly name: string,
  ) {
    leadership.on('lost', () => this.term.abort());
    leadership.on('acquired', () => {
      this.term.abort();
      this.term = new AbortController();
    });
  }

  async next(signal: AbortSignal): Promise<FeedOp | undefined> {
    while (!signal.aborted) {
      if (!this.leadership.isLeader) {
        await this.untilLeading(signal);
        continue;
      }
      const term = this.term.signal;
      this.inner ??= await this.create();
      const op = await this.inner.next(AbortSignal.any([signal, term]));
      if (!term.aborted || signal.aborted) return op;
      await this.inner.close();
      this.inner = undefined;
    }
    return undefined;
  }

  async close(): Promise<void> {
    this.term.abort();
    await this.inner?.close();
    this.inner = undefined;
  }

  private untilLeading(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.leadership.off('acquired', done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.leadership.once('acquired', done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
