import type { Logger } from '@matchcast/runtime';
import type { SubscriptionRegistry } from './registry';

/**
 * One sweep for all connections (not a timer per socket): each client keeps itself alive —
 * WebSocket clients are pinged and dropped when silent for longer than interval + timeout,
 * SSE streams get a comment line.
 */
export function startKeepAlive(registry: SubscriptionRegistry, intervalMs: number, timeoutMs: number, logger: Logger): () => void {
  const timer = setInterval(() => {
    const deadline = Date.now() - intervalMs - timeoutMs;
    for (const client of registry.clients()) {
      // One client's broken socket must not end the sweep (or the process) for all the others.
      try {
        client.keepAlive(deadline);
      } catch (error) {
        logger.warn({ err: error, client_id: client.id }, 'keep-alive failed');
      }
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
