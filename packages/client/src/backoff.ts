import { CloseCodes } from './wire.js';

export interface BackoffOptions {
  /** First retry's ceiling; each further attempt doubles it. Default 500 ms. */
  baseMs: number;
  /** Ceiling of any retry delay. Default 30 s. */
  maxMs: number;
  /** Ceiling of the delay after a draining server closed the connection (1012). Default 1000 ms. */
  drainJitterMs: number;
  /**
   * Ceiling of the first delay after an open connection was lost (1006, 1011, 4008…): the
   * server or the path to it is gone, and so every other client of that server is reconnecting
   * at the same instant. Spread over this window they reach the servers left at a rate those
   * can accept (a burst overflows the accept queue, and a dropped SYN is retried only after
   * 1 s, then 3 s, 7 s…). Default 1000 ms, twice a failed attempt's first window: 2 s did no
   * better in the storm bench and adds up to a second to every lost connection's wait.
   */
  lostJitterMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 30_000, drainJitterMs: 1000, lostJitterMs: 1000 };

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
 * - `lost`: anything else ending a connection that was open — reconnect within lostJitterMs;
 * - `retry`: anything else (an attempt that never opened) — exponential backoff.
 */
export type CloseAction = 'drain' | 'auth' | 'fatal' | 'lost' | 'retry';

export function closeAction(closeCode: number, httpStatus?: number, wasOpen = false): CloseAction {
  if (httpStatus === 401 || closeCode === CloseCodes.TOKEN_EXPIRED) return 'auth';
  if (httpStatus === 403 || closeCode === CloseCodes.FORBIDDEN) return 'fatal';
  if (closeCode === CloseCodes.SERVER_DRAINING) return 'drain';
  return wasOpen ? 'lost' : 'retry';
}

/** The delay before reconnecting for a `drain`, `lost` or `retry` close. */
export function reconnectDelay(action: 'drain' | 'lost' | 'retry', attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  if (action === 'drain') return Math.floor(random() * options.drainJitterMs);
  if (action === 'lost') return Math.floor(random() * options.lostJitterMs);
  return backoffDelay(attempt, options, random);
}
