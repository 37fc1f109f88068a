import type { SubscriptionRegistry } from './registry';
import { SseClient } from './sse';
import { WsClient } from './ws-client';

/**
 * One sweep for all connections (not a timer per socket): pings WebSocket clients and
 * terminates those silent for longer than interval + timeout; sends SSE keep-alives.
 */
export function startHeartbeat(registry: SubscriptionRegistry, intervalMs: number, timeoutMs: number): () => void {
  const timer = setInterval(() => {
    const deadline = Date.now() - intervalMs - timeoutMs;
    for (const client of registry.clients()) {
      if (client instanceof WsClient) {
        if (client.lastSeenAt < deadline) client.terminate();
        else client.ping();
      } else if (client instanceof SseClient) {
        client.keepAlive();
      }
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
