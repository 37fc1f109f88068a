import type { Duplex } from 'node:stream';
import { ProtocolError } from '@matchcast/protocol';
import type { Logger } from '@matchcast/runtime';
import type { NextFunction, Request, Response } from 'express';

/** A request target as a URL, or BAD_REQUEST: `new URL()` throws on targets such as `//[`. */
export function parseTarget(target: string | undefined): URL {
  try {
    return new URL(target ?? '/', 'http://gateway');
  } catch (error) {
    throw new ProtocolError('BAD_REQUEST', 'request target is not a valid URL', { cause: error });
  }
}

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

/** express's last handler: any failed request gets the coded JSON body, 4xx for the client's faults. */
export function errorResponder(logger: Logger) {
  return (error: unknown, _req: Request, res: Response, _next: NextFunction): void => {
    const status = (error as { status?: unknown } | null)?.status;
    const failure =
      error instanceof ProtocolError || typeof status !== 'number' || status >= 500
        ? ProtocolError.from(error)
        : new ProtocolError(status === 404 ? 'NOT_FOUND' : 'BAD_REQUEST', undefined, { cause: error });
    if (failure.code === 'INTERNAL') logger.error({ err: error }, 'request failed');
    if (res.headersSent) return void res.end();
    res.status(failure.httpStatus).json(failure.body());
  };
}

/** A request Node cannot even parse never reaches express: answered here, never a crash. */
export function onClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
  endSocket(socket, new ProtocolError('BAD_REQUEST', `malformed HTTP request (${error.code ?? 'unknown'})`));
}
