import type { SubscriptionRegistry } from './registry';

/**
 * One sweep for all connections (not a timer per socket): each client keeps itself alive —
 * WebSocket clients are pinged and dropped when silent for longer than interval + timeout,
 * SSE streams get a comment line.
 */
export function startHeartbeat(registry: SubscriptionRegistry, intervalMs: number, timeoutMs: number): () => void {
  const timer = setInterval(() => {
    const deadline = Date.now() - intervalMs - timeoutMs;
    for (const client of registry.clients()) client.keepAlive(deadline);
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
