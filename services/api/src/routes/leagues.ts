import { ProtocolError, type MatchStatus } from '@matchcast/protocol';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { intQuery, listQuery, pathId, timeQuery } from '../http/params';
import type { LeagueStore } from '../store/leagues';

export const MATCH_STATUSES: readonly MatchStatus[] = ['scheduled', 'live', 'half_time', 'finished', 'postponed', 'cancelled'];
/** A season has a few hundred matches per league: one page holds it; beyond, narrow with from/to. */
export const MAX_SCHEDULE = 1000;

const unknownLeague = (id: string) => new ProtocolError('NOT_FOUND', `no league "${id}"`);

/**
 * Public match data of a league: its table and its schedule. Readable without a token, like the
 * gateway's GET /api/matches and the public league:<id> channel they complement (the demo page
 * shows them signed out); a token sent is still verified (`optionallyAuthenticated`).
 */
export function leagueRoutes(optionallyAuthenticated: RequestHandler, store: LeagueStore): Router {
  const router = Router();

  router.get('/api/leagues/:id/table', optionallyAuthenticated, async (req: Request, res: Response) => {
    const id = pathId(req.params.id, 'league');
    const table = await store.table(id);
    if (!table) throw unknownLeague(id);
    res.json(table);
  });

  router.get('/api/leagues/:id/schedule', optionallyAuthenticated, async (req: Request, res: Response) => {
    const id = pathId(req.params.id, 'league');
    const from = timeQuery(req, 'from');
    const to = timeQuery(req, 'to');
    if (from !== undefined && to !== undefined && Date.parse(from) > Date.parse(to)) {
      throw new ProtocolError('BAD_REQUEST', '"from" must not be after "to"');
    }
    const statuses = listQuery(req, 'status', MATCH_STATUSES);
    const limit = intQuery(req, 'limit', { min: 1, max: MAX_SCHEDULE, fallback: MAX_SCHEDULE });
    const schedule = await store.schedule(id, { from, to, statuses, limit });
    if (!schedule) throw unknownLeague(id);
    res.json(schedule);
  });

  return router;
}
