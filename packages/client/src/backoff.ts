import { CloseCodes } from './wire.js';

export interface BackoffOptions {
  /** First retry's ceiling; each further attempt doubles it. Default 500 ms. */
  baseMs: number;
  /** Ceiling of any retry delay. Default 30 s. */
  maxMs: number;
  /** Ceiling of the delay after a draining server closed the connection (1012). Default 1000 ms. */
  drainJitterMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 30_000, drainJitterMs: 1000 };

/** Exponential backoff with full jitter: uniform in [0, min(max, base · 2^attempt)). */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(Math.max(0, attempt), 30));
  return Math.floor(random() * ceiling);
}

/**
 * What to do after a connection ended:
 * - `drain`: the server is restarting (1012) — reconnect at once, with a small jitter;
 * - `auth`: the token was refused or expired (4001, HTTP 401) — retry only with a different token;
 * - `fatal`: forbidden (4003, HTTP 403) — retrying cannot help;
 * - `retry`: anything else — exponential backoff.
 */
export type CloseAction = 'drain' | 'auth' | 'fatal' | 'retry';

export function closeAction(closeCode: number, httpStatus?: number): CloseAction {
  if (httpStatus === 401 || closeCode === CloseCodes.TOKEN_EXPIRED) return 'auth';
  if (httpStatus === 403 || closeCode === CloseCodes.FORBIDDEN) return 'fatal';
  if (closeCode === CloseCodes.SERVER_DRAINING) return 'drain';
  return 'retry';
}

/** The delay before reconnecting for a `drain` or `retry` close. */
export function reconnectDelay(action: 'drain' | 'retry', attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  return action === 'drain' ? Math.floor(random() * options.drainJitterMs) : backoffDelay(attempt, options, random);
}
