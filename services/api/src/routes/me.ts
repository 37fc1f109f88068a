import { ProtocolError } from '@matchcast/protocol';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { callerOf } from '../http/auth';
import { followTarget } from '../http/params';
import type { FollowStore } from '../store/follows';

/** The caller themself and what they follow. */
export function meRoutes(authenticated: RequestHandler, follows: FollowStore): Router {
  const router = Router();

  router.get('/api/me', authenticated, (_req: Request, res: Response) => {
    const caller = callerOf(res);
    res.json({ user: caller.userId, roles: [...caller.roles] });
  });

  router.get('/api/me/follows', authenticated, async (_req: Request, res: Response) => {
    res.json({ follows: await follows.list(callerOf(res).userId) });
  });

  router.put('/api/me/follows/:kind/:id', authenticated, async (req: Request, res: Response) => {
    const { kind, id } = followTarget(req.params.kind, req.params.id);
    const result = await follows.follow(callerOf(res).userId, kind, id);
    switch (result.outcome) {
      case 'no_such_target':
        throw new ProtocolError('NOT_FOUND', `no ${kind} "${id}"`);
      case 'limit_reached':
        throw new ProtocolError('FOLLOW_LIMIT_REACHED', `you follow ${result.limit} teams, leagues and matches, the most allowed; unfollow one first`);
      default:
        res.status(result.outcome === 'created' ? 201 : 200).json(result.follow);
    }
  });

  router.delete('/api/me/follows/:kind/:id', authenticated, async (req: Request, res: Response) => {
    const { kind, id } = followTarget(req.params.kind, req.params.id);
    await follows.unfollow(callerOf(res).userId, kind, id);
    res.status(204).end();
  });

  return router;
}
