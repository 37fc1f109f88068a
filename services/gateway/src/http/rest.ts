import { readMatches, MATCH_STATUSES } from '@matchcast/db';
import { ProtocolError } from '@matchcast/protocol';
import { Router, type NextFunction, type Request, type Response } from 'express';
import type { Pool } from 'pg';

const MAX_LIMIT = 500;

/** A query parameter given once as a string, or undefined; repeated or nested parameters are refused. */
function single(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new ProtocolError('BAD_REQUEST', `"${name}" must be given once`);
  return value;
}

function limitOf(req: Request): number {
  const value = single(req, 'limit');
  if (value === undefined) return 100;
  if (!/^\d{1,4}$/.test(value) || Number(value) < 1 || Number(value) > MAX_LIMIT) {
    throw new ProtocolError('BAD_REQUEST', `"limit" must be an integer from 1 to ${MAX_LIMIT}`);
  }
  return Number(value);
}

function statusesOf(req: Request): string[] | null {
  const value = single(req, 'status');
  if (value === undefined) return null;
  const statuses = value.split(',');
  const unknown = statuses.find((status) => !MATCH_STATUSES.includes(status));
  if (unknown !== undefined) {
    throw new ProtocolError('BAD_REQUEST', `"status" must be a comma-separated list of ${MATCH_STATUSES.join(', ')}`);
  }
  return statuses;
}

/**
 * Current state for a page's first paint: each match's snapshot and its stream's seq, which
 * the page then passes as `resume` when it subscribes, so no update falls between the two.
 * Bad parameters get 400 with a code, never a database error.
 */
export function restRoutes(db: Pool): Router {
  const router = Router();
  router.get('/api/matches', async (req: Request, res: Response, next: NextFunction) => {
    try {
      res.json({ matches: await readMatches(db, statusesOf(req), limitOf(req)) });
    } catch (error) {
      next(error);
    }
  });
  router.use('/api', (_req: Request, _res: Response, next: NextFunction) => next(new ProtocolError('NOT_FOUND')));
  return router;
}
