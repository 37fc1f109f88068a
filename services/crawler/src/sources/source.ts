import type { FeedOp } from '../feed';

/**
 * Where operations come from. A source paces itself: next() resolves when the next operation
 * is due. It resolves undefined when the feed is exhausted or the signal aborts.
 */
export interface FeedSource {
  readonly name: string;
  next(signal: AbortSignal): Promise<FeedOp | undefined>;
  close(): Promise<void>;
}
