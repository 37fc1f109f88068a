import type { Duplex } from 'node:stream';
import { ProtocolError } from '@matchcast/protocol';

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
