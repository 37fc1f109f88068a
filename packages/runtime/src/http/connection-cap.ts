import type { Server } from 'node:http';
import type { Logger } from '../logger';
import { throttledWarn } from '../throttled-log';

/** How often at most a full port closes its idle keep-alive connections (once per drop would be once per connect of a flood). */
const RECLAIM_INTERVAL_MS = 1000;

/**
 * Caps how many TCP connections a public port holds at once, whatever they are doing; one past
 * the cap is closed at accept, counted and (throttled) logged. The request timeouts bound how
 * long a connection that never finishes a request lives, not how many there are: a flood of
 * bare connects held a file descriptor and ~6 KB each until the headers timeout, and 19,000 of
 * them took a gateway to its open-file limit (20,000 on that machine: new clients then got no
 * answer at all) and +120 MB of RSS; where the limit is a container's million, to its memory
 * limit, and with it every client (docs/security.md).
 *
 * A full port then closes its idle keep-alive connections (between requests; never an upgraded
 * WebSocket, an SSE stream or a request in flight): one host that sent one request on each of
 * API_MAX_CONNECTIONS connections and then sat on them held the API's whole port for its 65 s
 * keep-alive (77 connects a second kept every other client out), where a bare connect is held 10 s.
 */
export function capConnections(server: Server, max: number, dropped: { inc(): void }, logger: Logger): void {
  const warn = throttledWarn(logger);
  let reclaimedAt = 0;
  server.maxConnections = max;
  server.on('drop', (socket?: { remoteAddress?: string }) => {
    dropped.inc();
    const now = Date.now();
    if (now - reclaimedAt >= RECLAIM_INTERVAL_MS) {
      reclaimedAt = now;
      server.closeIdleConnections();
    }
    warn({ remote_address: socket?.remoteAddress, max_connections: max }, 'connection closed at accept: the port holds its most TCP connections; idle keep-alive connections closed');
  });
}
