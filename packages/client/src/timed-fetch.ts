/** How long a store's REST request (and `httpSnapshot`'s) may take by default. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 20_000;

/**
 * The fetch a store uses (the app's, else the global one) with each request given up after
 * `timeoutMs`: one never answered (a hung proxy, a server that accepts and stalls) left the
 * store's `ready` or a reload waiting for ever, and the app's retry with it.
 */
export function timedFetch(who: string, fetchImpl: typeof fetch | undefined, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): typeof fetch {
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) throw new TypeError(`${who}: \`timeoutMs\` must be a number of milliseconds above 0`);
  const impl = fetchImpl ?? ((input, init) => globalThis.fetch(input, init));
  return (input, init) => impl(input, { ...init, signal: AbortSignal.timeout(Math.min(timeoutMs, 2 ** 31 - 1)) });
}
