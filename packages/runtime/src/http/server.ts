import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerOptions } from 'node:http';
import type { Server as NetServer } from 'node:net';
import type { Duplex } from 'node:stream';
import { ProtocolError } from '@matchcast/protocol';
import { endSocket } from './http-errors';
import { DEFAULT_LISTEN_HOST, ListenError, type ListenAddress } from './listen-address';
import { limitPipelining } from './pipelining';

/**
 * The timeouts of every HTTP server a service listens with (client, API and ops ports). Node's
 * defaults let a connection that never sends a request, or trickles its headers a byte at a
 * time (slowloris), live for 60 s, checked only every 30 s, and one that trickles a body for
 * 300 s: from one address, thousands of such connections, each a file descriptor, none of them
 * under the per-address caps (those apply to admitted WebSocket and SSE streams only). Here:
 * headers within 10 s, the whole request within 30 s (a response may then stream for as long as
 * it likes: SSE), checked every second; a timeout is answered 408 by onClientError.
 */
export const HTTP_SERVER_TIMEOUTS: Readonly<Pick<ServerOptions, 'headersTimeout' | 'requestTimeout' | 'connectionsCheckingInterval'>> = Object.freeze({
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  connectionsCheckingInterval: 1000,
});

/**
 * An HTTP server as every service runs one: these timeouts (plus `options`, e.g. the API's
 * keepAliveTimeout) and no more than MAX_PIPELINED_REQUESTS requests in flight per connection.
 */
export function createHttpServer(listener: RequestListener, options: ServerOptions = {}): Server {
  const server = createServer({ ...HTTP_SERVER_TIMEOUTS, ...options }, limitPipelining(listener));
  server.on('connect', refuseTunnel);
  return server;
}

/**
 * CONNECT (a proxy's tunnel) never reaches the request listener: without a 'connect' listener
 * Node closed the socket without a word, the one method answered with silence. No service is a
 * proxy: 404 NOT_FOUND with the coded body, as for any method or path not served.
 */
function refuseTunnel(_req: IncomingMessage, socket: Duplex): void {
  socket.on('error', () => socket.destroy());
  endSocket(socket, new ProtocolError('NOT_FOUND', 'CONNECT is not served: this is not a proxy'));
}

/**
 * Starts listening; rejects when the address cannot be had (EADDRINUSE, EACCES, ENOTFOUND,
 * EADDRNOTAVAIL) with a ListenError naming the setting at fault, so the service ends with a
 * fatal log line that says what to change: an unhandled 'error' event was a crash dump.
 * `backlog` undefined is Node's default.
 */
export function listen(server: NetServer, address: ListenAddress, backlog?: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (error: NodeJS.ErrnoException) => reject(new ListenError(address, error));
    server.once('error', fail);
    server.listen(address.port, address.host ?? DEFAULT_LISTEN_HOST, backlog, () => {
      server.off('error', fail);
      resolve();
    });
  });
}
