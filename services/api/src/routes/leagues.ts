import { ROLES } from '@matchcast/auth';
import { ProtocolError, type MatchStatus } from '@matchcast/protocol';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { callerOf, requireRole, viewerOf } from '../http/auth';
import { decodeKeyCursor, encodeKeyCursor } from '../http/cursor';
import { singleQuery } from '@matchcast/runtime';
import { intQuery, listQuery, pathId, timeQuery } from '../http/params';
import type { LeagueStore } from '../store/leagues';
import { parseLeaguePatch } from '../validate/league-input';

export const MATCH_STATUSES: readonly MatchStatus[] = ['scheduled', 'live', 'half_time', 'finished', 'postponed', 'cancelled'];
/** A season has a few hundred matches per league: one page holds it; beyond, narrow with from/to. */
export const MAX_SCHEDULE = 1000;
/** Members one page of GET /api/leagues/{id}/members holds at most (the default); next_cursor continues. */
export const MAX_MEMBERS = 1000;

const unknownLeague = (id: string) => new ProtocolError('NOT_FOUND', `no league "${id}"`);

/**
 * Public match data of a league: its table and its schedule. Readable without a token, like the
 * gateway's GET /api/matches and the public league:<id> channel they complement (the demo page
 * shows them signed out); a token sent is still verified (`optionallyAuthenticated`). A private
 * league's data only for its members and admins: anyone else gets 404, exactly as for a league
 * that does not exist. Admins set a league's privacy and members.
 */
export function leagueRoutes(authenticated: RequestHandler, optionallyAuthenticated: RequestHandler, store: LeagueStore): Router {
  const router = Router();
  const admin = requireRole(ROLES.admin);

  router.get('/api/leagues/:id', authenticated, admin, async (req: Request, res: Response) => {
    const id = pathId(req.params.id, 'league');
    const league = await store.get(id);
    if (!league) throw unknownLeague(id);
    res.json(league);
  });

  router.patch('/api/leagues/:id', authenticated, admin, async (req: Request, res: Response) => {
    const id = pathId(req.params.id, 'league');
    const patch = parseLeaguePatch(req.body);
    const league = await store.setPrivate(id, patch.private);
    if (!league) throw unknownLeague(id);
    res.json(league);
  });

  router.get('/api/leagues/:id/members', authenticated, admin, async (req: Request, res: Response) => {
    const id = pathId(req.params.id, 'league');
    const limit = intQuery(req, 'limit', { min: 1, max: MAX_MEMBERS, fallback: MAX_MEMBERS });
    const cursor = singleQuery(req, 'cursor');
    const rows = await store.members(id, limit, cursor === undefined ? null : decodeKeyCursor(cursor));
    if (!rows) throw unknownLeague(id);
    const members = rows.slice(0, limit);
    res.json({ league_id: id, members, next_cursor: rows.length > limit ? encodeKeyCursor(members[members.length - 1]!.user_id) : null });
  });

  // Idempotent: 201 when added, 200 when already a member (no event then).
  router.put('/api/leagues/:id/members/:user', authenticated, admin, async (req: Request, res: Response) => {
    const id = pathId(req.params.id, 'league');
    const user = pathId(req.params.user, 'user');
    const outcome = await store.addMember(id, user, callerOf(res).userId);
    if (outcome === 'no_league') throw unknownLeague(id);
    res.status(outcome === 'added' ? 201 : 200).json({ league_id: id, user_id: user, member: true });
  });

  router.delete('/api/leagues/:id/members/:user', authenticated, admin, async (req: Request, res: Response) => {
    const id = pathId(req.params.id, 'league');
    const user = pathId(req.params.user, 'user');
    const outcome = await store.removeMember(id, user);
    if (outcome === 'no_league') throw unknownLeague(id);
    if (outcome === 'not_member') throw new ProtocolError('NOT_FOUND', `"${user}" is not a member of league "${id}"`);
    res.status(204).end();
  });

  router.get('/api/leagues/:id/table', optionallyAuthenticated, async (req: Request, res: Response) => {
    const id = pathId(req.params.id, 'league');
    const table = await store.table(id, viewerOf(res));
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
    const schedule = await store.schedule(id, { from, to, statuses, limit }, viewerOf(res));
    if (!schedule) throw unknownLeague(id);
    res.json(schedule);
  });

  return router;
}
