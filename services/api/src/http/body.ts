import { ProtocolError } from '@matchcast/protocol';
import { hasRequestBody } from '@matchcast/runtime';
import type { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';

/**
 * How long a connection told 413 while its body still arrives may go on sending before it is
 * cut. Not at once: a reset while the answer is unread can lose it at the client (the lingering
 * close of every HTTP server); not until the whole body has arrived, which body-parser waits for
 * (up to the 30 s request timeout) before it answers.
 */
const LINGER_MS = 2000;

/**
 * JSON request bodies: a body of another type is 415 UNSUPPORTED_MEDIA_TYPE (not silently
 * ignored), one larger than `limitBytes` 413 PAYLOAD_TOO_LARGE (at once when its Content-Length
 * says so; otherwise as soon as the bytes received, inflated when compressed, pass the limit),
 * malformed JSON 400 BAD_JSON (errorResponder maps body-parser's errors). Requests without a
 * body pass untouched.
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
    // body-parser answers a body past the limit only once the request has ended (an endless
    // chunked one: at the request timeout). Its size as sent, and inflated when compressed (a few
    // bytes of gzip can pass the limit), is counted as it arrives beside body-parser, and past
    // the limit answered at once; body-parser's own answer, coming later, is dropped.
    const inflated = inflater(req.headers['content-encoding']);
    if (length !== undefined && !inflated) return parse(req, res, next); // within the limit, as announced
    let answered = false;
    const once: NextFunction = (error?: unknown) => {
      if (answered) return;
      answered = true;
      req.off('data', countSent);
      if (inflated) {
        req.unpipe(inflated);
        inflated.destroy();
      }
      next(error);
    };
    const counter = () => {
      let received = 0;
      return (chunk: Buffer) => {
        received += chunk.length;
        if (received > limitBytes) refuseTooLarge(req, res, once);
      };
    };
    const countSent = counter();
    req.on('data', countSent);
    // A corrupt body: body-parser's own inflating answers it.
    inflated?.on('error', () => undefined).on('data', counter());
    if (inflated) req.pipe(inflated);
    parse(req, res, once);
  };
}

/** A decompressor for the encodings body-parser inflates; undefined for none (or one it refuses). */
function inflater(encoding: string | undefined): Transform | undefined {
  switch (encoding?.toLowerCase()) {
    case 'gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    default:
      return undefined;
  }
}

/** 413 now, Connection: close, and the socket cut LINGER_MS after the answer if the client goes on sending. */
function refuseTooLarge(req: Request, res: Response, next: NextFunction): void {
  res.set('Connection', 'close');
  res.once('finish', () => setTimeout(() => req.socket.destroy(), LINGER_MS).unref());
  next(new ProtocolError('PAYLOAD_TOO_LARGE', 'request body exceeds the maximum size'));
}
