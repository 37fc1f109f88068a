import { ROLES } from '@matchcast/auth';
import { ProtocolError, type ChannelKind } from '@matchcast/protocol';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { requireRole } from '../http/auth';
import { singleQuery } from '@matchcast/runtime';
import { intQuery, pathId } from '../http/params';
import type { PresenceStore } from '../store/presence';

/** Channels one answer lists at most (the busiest first); the default. */
export const MAX_CHANNELS = 1000;
const DEFAULT_CHANNELS = 100;
/** A user's connections one answer lists at most (newest first). */
export const MAX_USER_CONNECTIONS = 100;

const CHANNEL_KINDS: readonly ChannelKind[] = ['match', 'league', 'team', 'live', 'all', 'user', 'purchase'];

/**
 * Who is listening, for admins (docs/api.md "Admin"): the cluster's channels with their
 * subscribers per transport, and one user's open connections — merged from the gateways'
 * presence snapshots, which are a few seconds old. Without Redis (REDIS_URL unset) both answer
 * 503 UNAVAILABLE: the snapshots live nowhere else.
 */
export function adminRoutes(authenticated: RequestHandler, presence: PresenceStore | undefined): Router {
  const router = Router();
  const admin = requireRole(ROLES.admin);
  const store = (): PresenceStore => {
    if (!presence) throw new ProtocolError('UNAVAILABLE', 'presence needs Redis: the API has no REDIS_URL');
    return presence;
  };

  router.get('/api/admin/channels', authenticated, admin, async (req: Request, res: Response) => {
    const limit = intQuery(req, 'limit', { min: 1, max: MAX_CHANNELS, fallback: DEFAULT_CHANNELS });
    const kind = singleQuery(req, 'kind');
    if (kind !== undefined && !CHANNEL_KINDS.includes(kind as ChannelKind)) {
      throw new ProtocolError('BAD_REQUEST', `"kind" must be one of ${CHANNEL_KINDS.join(', ')}`);
    }
    res.json(await store().channels(limit, (channel) => kind === undefined || channelKind(channel) === kind));
  });

  router.get('/api/admin/users/:id/connections', authenticated, admin, async (req: Request, res: Response) => {
    const id = pathId(req.params.id, 'user');
    const { connections, truncated } = await store().userConnections(id, MAX_USER_CONNECTIONS);
    res.json({ user_id: id, connections, truncated });
  });

  return router;
}

/** A channel name's kind by its prefix (`live:all` is live; `all` and its topics are all). */
function channelKind(channel: string): string {
  const colon = channel.indexOf(':');
  const slash = channel.indexOf('/');
  const end = colon < 0 ? (slash < 0 ? channel.length : slash) : colon;
  return channel.slice(0, end);
}
