import { ProtocolError } from '@matchcast/protocol';
import { hasRequestBody } from '@matchcast/runtime';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';

/**
 * How long a connection told 413 while its body still arrives may go on sending before it is
 * cut. Not at once: a reset while the answer is unread can lose it at the client (the lingering
 * close of every HTTP server); not until the whole body has arrived, which body-parser waits for
 * (up to the 30 s request timeout, or for ever for an endless chunked body) before it answers.
 */
const LINGER_MS = 2000;

/**
 * JSON request bodies: a body of another type is 415 UNSUPPORTED_MEDIA_TYPE (not silently
 * ignored), one larger than `limitBytes` 413 PAYLOAD_TOO_LARGE (at once when its Content-Length
 * says so; a chunked one as soon as the bytes received pass the limit; a compressed one whose
 * inflated size passes it once its body has arrived), malformed JSON 400 BAD_JSON (errorResponder
 * maps body-parser's errors). Requests without a body pass untouched.
 */
export function jsonBody(limitBytes: number): RequestHandler {
  const parse = express.json({ limit: limitBytes, strict: true, type: () => true });
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!hasRequestBody(req)) return next();
    if (!req.is(['application/json', 'application/*+json'])) {
      return next(new ProtocolError('UNSUPPORTED_MEDIA_TYPE', 'request body must be Content-Type: application/json'));
    }
    // Node has checked Content-Length is digits. A larger one is answered now, not after the body.
    const length = req.headers['content-length'];
    if (length !== undefined && Number(length) > limitBytes) return refuseTooLarge(req, res, next);
    if (length !== undefined) return parse(req, res, next);
    // A chunked body's size is known only as it arrives: count it beside body-parser, and answer
    // once past the limit. body-parser's own answer to it comes only when the request has ended
    // (or its socket is cut), by then answered: dropped.
    let answered = false;
    const once: NextFunction = (error?: unknown) => {
      if (answered) return;
      answered = true;
      req.off('data', count);
      next(error);
    };
    let received = 0;
    const count = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limitBytes) refuseTooLarge(req, res, once);
    };
    req.on('data', count);
    parse(req, res, once);
  };
}

/** 413 now, Connection: close, and the socket cut LINGER_MS after the answer if the client goes on sending. */
function refuseTooLarge(req: Request, res: Response, next: NextFunction): void {
  res.set('Connection', 'close');
  res.once('finish', () => setTimeout(() => req.socket.destroy(), LINGER_MS).unref());
  next(new ProtocolError('PAYLOAD_TOO_LARGE', 'request body exceeds the maximum size'));
}
