import type { TokenVerifier } from '@matchcast/auth';
import { readMatches, unavailable, MATCH_STATUSES, type MatchViewer } from '@matchcast/db';
import { ProtocolError } from '@matchcast/protocol';
import { authorizationHeader, clientGroup, singleQuery } from '@matchcast/runtime';
import { Router, type NextFunction, type Request, type Response } from 'express';
import type { ClientReads } from '../transport/notification-stream';

const MAX_LIMIT = 500;

function limitOf(req: Request): number {
  const value = singleQuery(req, 'limit');
  if (value === undefined) return 100;
  if (!/^\d{1,4}$/.test(value) || Number(value) < 1 || Number(value) > MAX_LIMIT) {
    throw new ProtocolError('BAD_REQUEST', `"limit" must be an integer from 1 to ${MAX_LIMIT}`);
  }
  return Number(value);
}

function statusesOf(req: Request): string[] | null {
  const value = singleQuery(req, 'status');
  if (value === undefined) return null;
  const statuses = value.split(',');
  const unknown = statuses.find((status) => !MATCH_STATUSES.includes(status));
  if (unknown !== undefined) {
    throw new ProtocolError('BAD_REQUEST', `"status" must be a comma-separated list of ${MATCH_STATUSES.join(', ')}`);
  }
  return statuses;
}

/**
 * Who asks: no Authorization header is anonymous (public leagues only; 401 with AUTH_REQUIRED); a header sent must be a
 * valid token (401 otherwise), whose user sees the private leagues they are a member of, and an
 * admin all of them.
 */
async function viewerOf(req: Request, verifier: TokenVerifier): Promise<MatchViewer> {
  const header = authorizationHeader(req);
  if (header === undefined) {
    // AUTH_REQUIRED: no anonymous reads here either, as on the WebSocket and SSE endpoints.
    if (verifier.requiresToken) throw new ProtocolError('UNAUTHORIZED', 'a token is required');
    return { userId: null, admin: false };
  }
  const match = /^Bearer +([^\s]+) *$/i.exec(header);
  if (!match) throw new ProtocolError('UNAUTHORIZED', 'send Authorization: Bearer <token>');
  const identity = await verifier.verify(match[1]!);
  return { userId: identity.userId ?? null, admin: identity.roles.has('admin') };
}

/**
 * Current state for a page's first paint: each match's snapshot and its stream's seq, which
 * the page then passes as `resume` when it subscribes, so no update falls between the two.
 * Bad parameters get 400 with a code, never a database error; a database that cannot answer, 503.
 * Read on the pool for client work (`reads`, with its statement timeout, in the client address's turn), never on the
 * sequencer's: a flood of these held every connection of it, and live delivery that needs the
 * outbox (a user stream's head, a new match's first event, a catch-up) waited seconds behind them.
 */
export function restRoutes(reads: ClientReads, verifier: TokenVerifier, trustedProxyHops: number): Router {
  const router = Router();
  router.get('/api/matches', async (req: Request, res: Response, next: NextFunction) => {
    // The answer depends on the caller's token (private leagues): no shared cache may keep it, as none keeps the API's.
    res.setHeader('Cache-Control', 'no-store');
    try {
      const statuses = statusesOf(req);
      const limit = limitOf(req);
      const viewer = await viewerOf(req, verifier);
      const caller = { group: clientGroup(req, trustedProxyHops), alive: () => !req.socket.destroyed };
      const matches = await reads(caller, (db) => readMatches(db, statuses, limit, viewer));
      if (matches === undefined) return; // the client left while the request waited for a connection
      res.json({ matches });
    } catch (error) {
      next(unavailable(error) ?? error);
    }
  });
  return router;
}
