import { ROLES } from '@matchcast/auth';
import type { TokenVerifier } from '@matchcast/auth';
import { ID_PATTERN, ProtocolError } from '@matchcast/protocol';
import { authorizationHeader, clientGroup } from '@matchcast/runtime';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ANONYMOUS, type Viewer } from '../store/leagues';
import type { CallerSlots } from './caller-slots';

/** Who is calling: the token's subject (the user) and its roles. */
export interface Caller {
  readonly userId: string;
  readonly roles: ReadonlySet<string>;
}

/**
 * Requires `Authorization: Bearer <jwt>` (never a query token: URLs end up in logs) and puts
 * the caller on res.locals. The subject must also be a valid user id, since it names the
 * user's rows and stream. The request then runs in one of the user's slots (CallerSlots).
 */
export function authenticate(verifier: TokenVerifier, slots: CallerSlots): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    const header = authorizationHeader(req);
    const match = header === undefined ? null : /^Bearer +([^\s]+) *$/i.exec(header);
    if (!match) return next(new ProtocolError('UNAUTHORIZED', 'send Authorization: Bearer <token>'));
    verifier.verify(match[1]!).then(
      (identity) => {
        if (!identity.userId || !ID_PATTERN.test(identity.userId)) {
          return next(new ProtocolError('UNAUTHORIZED', `token subject must be a user id matching ${ID_PATTERN.source}`));
        }
        res.locals.caller = { userId: identity.userId, roles: identity.roles } satisfies Caller;
        slots.admit(`user:${identity.userId}`, res, next);
      },
      (error: unknown) => next(error),
    );
  };
}

/**
 * For public reads: no Authorization header is an anonymous caller (nothing on res.locals),
 * whose slots are its address's (as the trusted proxies saw it; an IPv6 address's /64); a
 * header present is verified exactly as `authenticate` does (a bad token is still 401), so a route can later narrow what a
 * signed-in caller may see (e.g. private competitions). With AUTH_REQUIRED there is no anonymous
 * caller: no header is 401, as on every other route and connection.
 */
export function optionallyAuthenticate(verifier: TokenVerifier, slots: CallerSlots, trustedProxyHops: number): RequestHandler {
  const required = authenticate(verifier, slots);
  return (req: Request, res: Response, next: NextFunction): void => {
    if (authorizationHeader(req) === undefined && !verifier.requiresToken) return slots.admit(`address:${clientGroup(req, trustedProxyHops)}`, res, next);
    required(req, res, next);
  };
}

export function callerOf(res: Response): Caller {
  const caller = res.locals.caller as Caller | undefined;
  if (!caller) throw new Error('route is missing the authenticate middleware');
  return caller;
}

/** The caller as a reader of league data (anonymous when no token was sent): private leagues are for members and admins. */
export function viewerOf(res: Response): Viewer {
  const caller = res.locals.caller as Caller | undefined;
  return caller ? { userId: caller.userId, admin: caller.roles.has(ROLES.admin) } : ANONYMOUS;
}

/** 403 FORBIDDEN unless the caller has one of the roles. */
export function requireRole(...roles: readonly string[]): RequestHandler {
  return (_req: Request, res: Response, next: NextFunction): void => {
    const caller = callerOf(res);
    if (roles.some((role) => caller.roles.has(role))) return next();
    next(new ProtocolError('FORBIDDEN', `this operation needs the role ${roles.join(' or ')}`));
  };
}
