import type { Logger } from 'pino';

/**
 * A warning that may fire thousands of times a second (garbage on the bus, a flood of bad
 * requests) is logged at most once per interval, with how many were suppressed since.
 */
export function throttledWarn(logger: Logger, intervalMs = 10_000): (fields: Record<string, unknown>, message: string) => void {
  let lastAt = 0;
  let suppressed = 0;
  return (fields, message) => {
    const now = Date.now();
    if (now - lastAt < intervalMs) {
      suppressed++;
      return;
    }
    logger.warn({ ...fields, suppressed }, message);
    lastAt = now;
    suppressed = 0;
  };
}
