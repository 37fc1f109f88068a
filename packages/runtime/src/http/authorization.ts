import type { IncomingMessage } from 'node:http';
import { ProtocolError } from '@matchcast/protocol';

/**
 * The request's Authorization header (undefined when absent), given once. Node keeps the first
 * of several and drops the others without a word, while a proxy in front may have judged, or
 * appended, another one: two are refused BAD_REQUEST rather than one of them taken silently.
 */
export function authorizationHeader(req: IncomingMessage): string | undefined {
  const raw = req.rawHeaders;
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 13 && raw[i]!.toLowerCase() === 'authorization') count++;
  if (count > 1) throw new ProtocolError('BAD_REQUEST', 'send one Authorization header');
  return req.headers.authorization;
}
