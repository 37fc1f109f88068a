import { isTransientDbError } from '@matchcast/db';

/** The crawler's error catalog: stable codes that logs and tests switch on. */
export const CrawlerErrorCodes = {
  FEED_INVALID: 'a feed operation does not match the feed format',
  FEED_UNREADABLE: 'the feed file cannot be read',
  UNKNOWN_MATCH: 'the operation names a match that does not exist',
  OP_REJECTED: 'the database rejected the operation',
  MATCH_CONFLICT: 'a snapshot names a match id stored with another league or other teams (ids collide, or the provider moved it); nothing written',
  PROVIDER_TIMEOUT: 'the provider did not answer within CRAWLER_HTTP_TIMEOUT_MS',
  PROVIDER_UNREACHABLE: 'the provider could not be reached (DNS, connection refused or reset)',
  PROVIDER_HTTP_ERROR: 'the provider answered with an HTTP error status',
  PROVIDER_RATE_LIMITED: 'the provider answered 429 Too Many Requests',
  PROVIDER_BODY_TOO_LARGE: 'the provider sent more than CRAWLER_HTTP_MAX_BODY_BYTES',
  PROVIDER_MALFORMED_JSON: 'the provider sent a body that is not JSON',
  PROVIDER_INVALID: 'the provider sent JSON that does not have the expected shape or values',
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

export type ProviderErrorCode = Extract<CrawlerErrorCode, `PROVIDER_${string}`>;

/**
 * A failed poll, or a rejected part of an answer. `status`: the HTTP status when there was one;
 * `retryAfterMs`: how long the provider asked us to wait (Retry-After), when it did.
 */
export class ProviderError extends CrawlerError {
  constructor(
    override readonly code: ProviderErrorCode,
    message: string,
    readonly details: { status?: number; retryAfterMs?: number } = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'ProviderError';
  }
}

/** True when retrying the same transaction later can succeed (never for the crawler's own errors). */
export function isTransient(error: unknown): boolean {
  return !(error instanceof CrawlerError) && isTransientDbError(error);
}
