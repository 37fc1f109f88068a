import { ProtocolError } from '@matchcast/protocol';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';

/**
 * JSON request bodies: a body of another type is 415 UNSUPPORTED_MEDIA_TYPE (not silently
 * ignored), one larger than `limitBytes` 413 PAYLOAD_TOO_LARGE, malformed JSON 400 BAD_JSON
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
    parse(req, res, next);
  };
}
