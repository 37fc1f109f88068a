import type { IncomingMessage, ServerResponse } from 'node:http';

/** Whether the request carries a body: chunked, or a Content-Length other than 0. */
export function hasRequestBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Middleware, first in the chain: an answer written before the request's body has all arrived
 * (a refusal that reads none: origin, type, size; a route that takes none) says Connection: close,
 * and Node closes the connection after it. To keep it, Node would read the rest of the body
 * first, an endless chunked one until the request timeout.
 */
export function closeUnreadBodies(req: IncomingMessage, res: ServerResponse, next: () => void): void {
  if (hasRequestBody(req)) {
    const writeHead = res.writeHead;
    res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
      if (!req.complete && !this.headersSent) this.setHeader('Connection', 'close');
      return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
    } as typeof res.writeHead;
  }
  next();
}
