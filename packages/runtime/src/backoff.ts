/** Exponential delay for the n-th retry (n from 0), capped: base, 2×base, 4×base … max. */
export function exponentialMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 20));
}

/** The same with full jitter (half to all of it), so that many retrying clients spread out. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  const ceiling = exponentialMs(attempt, baseMs, maxMs);
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves after `ms`, or at once when `signal` aborts (also when it already has). */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

/** Anything thrown, as an Error (a string or object thrown by a library becomes the message). */
export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
