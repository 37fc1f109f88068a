import { createHmac, timingSafeEqual } from 'node:crypto';
import { ProtocolError, type Channel } from '@matchcast/protocol';

/** Who a connection is: a verified token's subject, or anonymous. */
export interface Identity {
  userId: string | undefined;
}

const decode = (part: string): unknown => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

/**
 * Verifies an HS256 JWT (the common case for a backend that already issues session tokens)
 * and returns its subject. Only HS256 is accepted, so an `alg: none` token cannot pass.
 */
export function verifyToken(token: string, secret: string, nowMs = Date.now()): Identity {
  const parts = token.split('.');
  if (parts.length !== 3) throw new ProtocolError('UNAUTHORIZED', 'token is not a JWT');
  const [header, payload, signature] = parts as [string, string, string];
  let claims: { sub?: unknown; exp?: unknown; nbf?: unknown };
  try {
    const head = decode(header) as { alg?: unknown };
    if (head.alg !== 'HS256') throw new ProtocolError('UNAUTHORIZED', 'token must be signed with HS256');
    claims = decode(payload) as typeof claims;
  } catch (error) {
    if (error instanceof ProtocolError) throw error;
    throw new ProtocolError('UNAUTHORIZED', 'token is malformed', { cause: error });
  }
  const expected = createHmac('sha256', secret).update(`${header}.${payload}`).digest();
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new ProtocolError('UNAUTHORIZED', 'token signature is invalid');
  }
  const nowSeconds = nowMs / 1000;
  if (typeof claims.exp === 'number' && claims.exp < nowSeconds) throw new ProtocolError('UNAUTHORIZED', 'token has expired');
  if (typeof claims.nbf === 'number' && claims.nbf > nowSeconds) throw new ProtocolError('UNAUTHORIZED', 'token is not valid yet');
  if (typeof claims.sub !== 'string' || claims.sub.length === 0) throw new ProtocolError('UNAUTHORIZED', 'token has no subject');
  return { userId: claims.sub };
}

export interface AuthOptions {
  jwtSecret: string | undefined;
  requireToken: boolean;
}

/** Identity of a request from `Authorization: Bearer …` or `?token=…` (browsers can't set WS headers). */
export function authenticate(options: AuthOptions, authorization: string | undefined, queryToken: string | null): Identity {
  const token = authorization?.startsWith('Bearer ') ? authorization.slice(7).trim() : (queryToken ?? undefined);
  if (!token) {
    if (options.requireToken) throw new ProtocolError('UNAUTHORIZED', 'a token is required');
    return { userId: undefined };
  }
  if (!options.jwtSecret) throw new ProtocolError('UNAUTHORIZED', 'this server does not accept tokens');
  return verifyToken(token, options.jwtSecret);
}

/** Public channels are open to all; user:<id> only to that user. */
export function authorizeChannel(identity: Identity, channel: Channel): void {
  if (channel.kind === 'user' && channel.id !== identity.userId) {
    throw new ProtocolError('FORBIDDEN_CHANNEL', `"${channel.name}" is only for that user's token`);
  }
}
