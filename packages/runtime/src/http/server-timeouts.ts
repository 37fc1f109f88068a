import type { ServerOptions } from 'node:http';

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
