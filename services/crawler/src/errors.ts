import { isTransientDbError } from '@matchcast/db';

/** The crawler's error catalog: stable codes that logs and tests switch on. */
export const CrawlerErrorCodes = {
  FEED_INVALID: 'a feed operation does not match the feed format',
  FEED_UNREADABLE: 'the feed file cannot be read',
  UNKNOWN_MATCH: 'the operation names a match that does not exist',
  OP_REJECTED: 'the database rejected the operation',
} as const;

export type CrawlerErrorCode = keyof typeof CrawlerErrorCodes;

export class CrawlerError extends Error {
  constructor(
    readonly code: CrawlerErrorCode,
    message: string = CrawlerErrorCodes[code],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CrawlerError';
  }
}

/** An invalid feed line: names the file (when there is one) and the 1-based line number. */
export class FeedError extends CrawlerError {
  constructor(
    readonly problem: string,
    readonly line?: number,
    readonly file?: string,
  ) {
    const where = line === undefined ? '' : `${file ?? 'feed'}:${line}: `;
    super('FEED_INVALID', `${where}${problem}`);
    this.name = 'FeedError';
  }
}

/** True when retrying the same transaction later can succeed (never for the crawler's own errors). */
export function isTransient(error: unknown): boolean {
  return !(error instanceof CrawlerError) && isTransientDbError(error);
}
