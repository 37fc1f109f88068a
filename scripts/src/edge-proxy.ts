/**
 * The demo's edge: one port in front of the gateway and the API, routing as the production
 * Ingress does, so the page reaches both from one origin. Plain node:http — requests and
 * responses are piped as they come (SSE streams are not buffered) and WebSocket upgrades are
 * spliced through as raw sockets.
 */
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';

export interface Upstream {
  host: string;
  port: number;
}

export interface EdgeRoutes {
  gateway: Upstream;
  api: Upstream;
}

/** The Ingress' rules: the gateway's REST and SSE paths, then `/api/` to the API, the rest to the gateway. */
export function routeFor(path: string, routes: EdgeRoutes): Upstream {
  const under = (prefix: string) => path === prefix || path.startsWith(`${prefix}/`) || path.startsWith(`${prefix}?`);
  if (under('/api/notifications/stream') || under('/api/matches')) return routes.gateway;
  return under('/api') ? routes.api : routes.gateway;
}

/** The client's headers plus X-Forwarded-For / -Proto (the services trust one hop: TRUSTED_PROXY_HOPS=1). */
function forwarded(headers: IncomingHttpHeaders, address: string | undefined): IncomingHttpHeaders {
  const previous = headers['x-forwarded-for'];
  return { ...headers, 'x-forwarded-for': previous ? `${String(previous)}, ${address ?? ''}` : (address ?? ''), 'x-forwarded-proto': 'http' };
}

export interface EdgeProxy {
  server: Server;
  close(): Promise<void>;
}

export function startEdgeProxy(port: number, routes: EdgeRoutes, host = '0.0.0.0'): Promise<EdgeProxy> {
  const tunnels = new Set<Socket>();

  const server = createServer((req, res) => {
    const target = routeFor(req.url ?? '/', routes);
    const upstream = request({ ...target, method: req.method, path: req.url, headers: forwarded(req.headers, req.socket.remoteAddress) }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      res.flushHeaders(); // an SSE stream's headers go out before its first event
      answer.pipe(res);
    });
    upstream.on('error', () => {
      if (res.headersSent) res.destroy();
      else res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'BAD_GATEWAY', message: 'upstream unavailable' }));
    });
    // A client gone (a closed tab, an EventSource reconnecting) ends the upstream request too.
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  server.on('connection', (socket) => socket.setNoDelay(true));

  server.on('upgrade', (req, client: Socket, head: Buffer) => {
    const target = routeFor(req.url ?? '/', routes);
    const upstream = connect(target.port, target.host, () => {
      const headers = forwarded(req.headers, client.remoteAddress);
      const lines = Object.entries(headers).flatMap(([name, value]) => (Array.isArray(value) ? value : [value]).map((v) => `${name}: ${v}`));
      upstream.write(`${req.method} ${req.url} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client).pipe(upstream);
    });
    for (const socket of [client, upstream]) {
      tunnels.add(socket);
      socket.setNoDelay(true);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        tunnels.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve({
        server,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
            for (const socket of tunnels) socket.destroy();
          }),
      });
    });
  });
}
