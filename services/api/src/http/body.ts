import { ProtocolError } from '@matchcast/protocol';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';

/**
 * How long a connection told 413 up front may go on sending before it is cut. Not at once: a
 * reset while the answer is unread can lose it at the client (the lingering close of every
 * HTTP server); not until the announced body has arrived, which body-parser waited for (up to
 * the 30 s request timeout) before it answered at all.
 */
const LINGER_MS = 2000;

/**
 * JSON request bodies: a body of another type is 415 UNSUPPORTED_MEDIA_TYPE (not silently
 * ignored), one larger than `limitBytes` 413 PAYLOAD_TOO_LARGE (at once when its Content-Length says
 * so; a chunked one once the limit is passed and the rest has arrived), malformed JSON 400 BAD_JSON
 * (errorResponder maps body-parser's errors). Requests without a body pass untouched.
 */
export function jsonBody(limitBytes: number): RequestHandler {
  const parse = express.json({ limit: limitBytes, strict: true, type: () => true });
  return (req: Request, res: Response, next: NextFunction): void => {
    const length = req.headers['content-length'];
    const hasBody = req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
    if (!hasBody) return next();
    if (!req.is(['application/json', 'application/*+json'])) {
      return next(new ProtocolError('UNSUPPORTED_MEDIA_TYPE', 'request body must be Content-Type: application/json'));
    }
    // Node has checked Content-Length is digits. A larger one is answered now, not after the body.
    if (length !== undefined && Number(length) > limitBytes) {
      res.set('Connection', 'close');
      res.once('finish', () => setTimeout(() => req.socket.destroy(), LINGER_MS).unref());
      return next(new ProtocolError('PAYLOAD_TOO_LARGE', 'request body exceeds the maximum size'));
    }
    parse(req, res, next);
  };
}
