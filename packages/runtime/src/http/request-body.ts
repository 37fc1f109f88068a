import type { IncomingMessage } from 'node:http';

/** Whether the request carries a body: chunked, or a Content-Length other than 0. */
export function hasRequestBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
