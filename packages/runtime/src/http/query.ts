import { parse } from 'node:querystring';
import { ProtocolError } from '@matchcast/protocol';
import type { Request } from 'express';

/**
 * A query parameter given once as a string, or undefined; repeated (`?since=a&since=b`) or nested
 * parameters are refused BAD_REQUEST. Read as absent, a repeated one changed what was asked
 * without a word (an SSE `?token=…&token=…` opened an anonymous stream).
 */
export function singleQuery(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new ProtocolError('BAD_REQUEST', `"${name}" must be given once`);
  return value;
}

/**
 * The query parser of every app (`app.set('query parser', parseQuery)`): express's `simple`
 * parser with no cap on the number of parameters. Its cap (Node's 1000) dropped every parameter
 * past the thousandth without a word: an SSE `resume` or `token` after 999 others opened a
 * stream that did not resume, or an anonymous one. The request line is bounded by the header
 * limit (16 KiB: HEADERS_TOO_LARGE past it), so reading every parameter costs little.
 */
export function parseQuery(text: string): ReturnType<typeof parse> {
  return parse(text, '&', '=', { maxKeys: 0 });
}
