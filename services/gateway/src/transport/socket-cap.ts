import type { Server } from 'node:http';
import { throttledWarn, type Logger } from '@matchcast/runtime';

/**
 * How many TCP connections the client port holds at most, whatever they are doing: the
 * stream cap (WS_MAX_CONNECTIONS) plus half again, at least 1,000, for handshakes in flight
 * and REST requests. Admission answers SERVER_FULL at the stream cap; this one bites only on
 * connections that never become streams. A flood of bare connects otherwise held a file
 * descriptor and ~6 KB each until the headers timeout: 19,000 of them took a gateway to its
 * open-file limit (20,000 here: new clients then got no answer at all) and +120 MB of RSS, and
 * where the limit is a container's million, to its memory limit, and with it every client.
 */
export function socketCap(maxStreams: number): number {
  return maxStreams + Math.max(1000, Math.ceil(maxStreams / 2));
}

/** Caps the server's connections; one over the cap is closed at accept, counted and (throttled) logged. */
export function capSockets(server: Server, maxStreams: number, dropped: { inc(): void }, logger: Logger): void {
  const cap = socketCap(maxStreams);
  const warn = throttledWarn(logger);
  server.maxConnections = cap;
  server.on('drop', (socket?: { remoteAddress?: string }) => {
    dropped.inc();
    warn({ remote_address: socket?.remoteAddress, max_sockets: cap }, 'connection closed at accept: the client port holds its most TCP connections');
  });
}
