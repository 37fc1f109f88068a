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
