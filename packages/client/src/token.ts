/**
 * Token lifetimes, read from the JWT's `exp` without verifying it (the server verifies;
 * the client only needs to know when to ask for a new one).
 */

function base64UrlDecode(part: string): string {
  const base64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
  const binary = atob(base64);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** The JWT's claims, unverified; undefined when the token is not a JWT. */
function tokenClaims(token: string): Record<string, unknown> | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims: unknown = JSON.parse(base64UrlDecode(payload));
    return claims && typeof claims === 'object' ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The token's expiry in ms since the epoch, or undefined when it is not a JWT with a numeric `exp`. */
export function tokenExpiryMs(token: string): number | undefined {
  const exp = tokenClaims(token)?.exp;
  return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
}

/** The token's `sub` (matchcast's user id), or undefined when it is not a JWT with a string `sub`. */
export function tokenSubject(token: string): string | undefined {
  const sub = tokenClaims(token)?.sub;
  return typeof sub === 'string' && sub !== '' ? sub : undefined;
}

/**
 * When to refresh a token that expires at `expiresAtMs`: `leadMs` before expiry, but never
 * later than halfway through the remaining lifetime (short-lived tokens refresh at half-life).
 */
export function refreshDelay(expiresAtMs: number, nowMs: number, leadMs: number): number {
  const remaining = expiresAtMs - nowMs;
  if (remaining <= 0) return 0;
  return Math.max(0, remaining - Math.min(leadMs, remaining / 2));
}

/**
 * The least time between two refreshes, whatever expiry a `refreshed` answer names: a server
 * that answered every refresh with an expiry a millisecond away (or already past) got a new
 * provider call and a refresh frame per round trip, for as long as the connection lasted.
 * Short enough for tokens of a few seconds, which refresh at half-life.
 */
export const MIN_REFRESH_INTERVAL_MS = 1000;

/** One pending refresh at a time: scheduling again replaces the previous timer. */
export class RefreshTimer {
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** When the last refresh was due (onDue ran); none yet: -Infinity. */
  private lastDueAt = -Infinity;

  constructor(
    private readonly leadMs: number,
    private readonly onDue: () => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Schedules a refresh for a token expiring at `expiresAtMs`; no-op (cancel) when undefined. */
  schedule(expiresAtMs: number | undefined): void {
    this.cancel();
    if (expiresAtMs === undefined) return;
    // setTimeout's limit is 2^31-1 ms (~24.8 days); longer waits re-arm.
    const now = this.now();
    const delay = Math.max(refreshDelay(expiresAtMs, now, this.leadMs), this.lastDueAt + MIN_REFRESH_INTERVAL_MS - now);
    const capped = Math.min(delay, 2_147_483_647);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (capped < delay) this.schedule(expiresAtMs);
      else this.due();
    }, capped);
  }

  /** Schedules the next attempt `delayMs` from now (when the provider had nothing newer yet). */
  retryIn(delayMs: number): void {
    this.cancel();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.due();
    }, delayMs);
  }

  private due(): void {
    this.lastDueAt = this.now();
    this.onDue();
  }

  get pending(): boolean {
    return this.timer !== undefined;
  }

  cancel(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
