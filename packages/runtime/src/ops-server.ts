import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Router } from 'express';
import type { Logger } from 'pino';
import { errorResponder, notFound, onClientError } from './http/http-errors';
import { createHttpServer, listen } from './http/server';
import type { ListenAddress } from './http/listen-address';
import { capConnectionsPerAddress } from './http/per-address-cap';

/** TCP connections one address may hold on an ops port (a kubelet's probes, a Prometheus scrape, a curl need a few). */
export const OPS_MAX_CONNECTIONS_PER_ADDRESS = 32;

export interface OpsServer {
  readonly server: Server;
  /** The bound port (useful when listening on port 0). */
  readonly port: number;
  /** Stops accepting connections and closes idle keep-alive sockets; safe to call twice. */
  close(): Promise<void>;
}

/**
 * A standalone HTTP server for a worker that has no HTTP API of its own (the crawler):
 * serves the opsRoutes router (/healthz /readyz /metrics) and nothing else.
 */
export async function listenOps(router: Router, address: ListenAddress, logger: Logger): Promise<OpsServer> {
  const app = express();
  app.disable('x-powered-by');
  app.use(router);
  // As on the client ports: an unknown path, a failed /metrics and a request Node cannot parse
  // get the coded JSON body, not express's HTML page or Node's bare 400 (a timeout: 408).
  app.use(notFound);
  app.use(errorResponder(logger));
  const server = createHttpServer(app);
  server.on('clientError', onClientError);
  capConnectionsPerAddress(server, OPS_MAX_CONNECTIONS_PER_ADDRESS);
  await listen(server, address);
  let closing: Promise<void> | undefined;
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close() {
      closing ??= new Promise<void>((done) => {
        server.close(() => done());
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
