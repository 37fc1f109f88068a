import type { Duplex } from 'node:stream';
import { ProtocolError, type ErrorCode } from '@matchcast/protocol';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';

/** Answers a raw socket (a refused upgrade, a malformed request) with the coded JSON body and closes it. */
export function endSocket(socket: Duplex, failure: ProtocolError): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify(failure.body());
  socket.end(
    `HTTP/1.1 ${failure.httpStatus} ${failure.code}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * The code of a client fault that express or its body parser raised (they carry an HTTP
 * `status` and, for body-parser, a `type`); undefined for anything else (a server fault).
 */
function clientFault(error: unknown): { code: ErrorCode; message?: string } | undefined {
  const { status, type } = (error ?? {}) as { status?: unknown; type?: unknown };
  if (typeof status !== 'number' || status < 400 || status >= 500) return undefined;
  // The codes' default messages speak of WebSocket frames; these are request bodies.
  if (type === 'entity.parse.failed') return { code: 'BAD_JSON', message: 'request body is not valid JSON' };
  if (status === 404) return { code: 'NOT_FOUND' };
  if (status === 413) return { code: 'PAYLOAD_TOO_LARGE', message: 'request body exceeds the maximum size' };
  // body-parser's 415s are about the encoding or charset of a JSON body: saying "must be
  // application/json" to a client that sent exactly that sent it looking for the wrong fault.
  if (type === 'encoding.unsupported') return { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Content-Encoding must be gzip, deflate, br or absent' };
  if (type === 'charset.unsupported') return { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'request body charset must be UTF-8' };
  if (status === 415) return { code: 'UNSUPPORTED_MEDIA_TYPE' };
  return { code: 'BAD_REQUEST' };
}

/** Any error of a request as the ProtocolError it is answered with: express's 4xx keep their meaning, the rest is INTERNAL. */
export function requestFailure(error: unknown): ProtocolError {
  const fault = error instanceof ProtocolError ? undefined : clientFault(error);
  return fault ? new ProtocolError(fault.code, fault.message, { cause: error }) : ProtocolError.from(error);
}

/** After the last route: a request no route answered is NOT_FOUND with the coded JSON body, not express's HTML page. */
export function notFound(_req: Request, _res: Response, next: NextFunction): void {
  next(new ProtocolError('NOT_FOUND'));
}

/** express's last handler: any failed request gets the coded JSON body, 4xx for the client's faults. */
export function errorResponder(logger: Logger) {
  return (error: unknown, _req: Request, res: Response, _next: NextFunction): void => {
    const failure = requestFailure(error);
    if (failure.code === 'INTERNAL') logger.error({ err: error }, 'request failed');
    if (res.headersSent) return void res.end();
    res.status(failure.httpStatus).json(failure.body());
  };
}

/**
 * A request Node cannot even parse, or that does not arrive in time (HTTP_SERVER_TIMEOUTS),
 * never reaches express: answered here, never a crash.
 */
export function onClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return endSocket(socket, new ProtocolError('REQUEST_TIMEOUT'));
  if (error.code === 'HPE_HEADER_OVERFLOW') return endSocket(socket, new ProtocolError('HEADERS_TOO_LARGE'));
  endSocket(socket, new ProtocolError('BAD_REQUEST', `malformed HTTP request (${error.code ?? 'unknown'})`));
}
