import { ROLES } from '@matchcast/auth';
import { ID_PATTERN, ProtocolError } from '@matchcast/protocol';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { callerOf, requireRole, viewerOf, type Caller } from '../http/auth';
import { singleQuery } from '@matchcast/runtime';
import { announcementId, intQuery } from '../http/params';
import type { AnnouncementStore } from '../store/announcements';
import { ANNOUNCEMENT_TARGETS, parseAnnouncementInput, parseAnnouncementPatch, type AnnouncementTarget } from '../validate/announcement-input';

export const MAX_ANNOUNCEMENTS = 100;

const notFound = () => new ProtocolError('NOT_FOUND', 'no such announcement');

/** A window problem the database found (it compares with the stored fields), as the validator reports its own. */
const fieldProblem = (field: string, problem: string) =>
  new ProtocolError('VALIDATION_FAILED', `request body failed validation: ${field}`, { fields: { [field]: problem } });

/**
 * Announcements: admins create, edit and withdraw them (role admin). What is published is public,
 * like the channels it goes out on: a target's active ones and a published one by id answer
 * without a token (a token sent is still verified; an admin's also reads any state).
 */
export function announcementRoutes(authenticated: RequestHandler, optionallyAuthenticated: RequestHandler, store: AnnouncementStore): Router {
  const router = Router();
  const admin = requireRole(ROLES.admin);

  router.post('/api/announcements', authenticated, admin, async (req: Request, res: Response) => {
    const input = parseAnnouncementInput(req.body);
    const { outcome, announcement } = await store.create(input, callerOf(res).userId);
    if (outcome === 'no_target') throw new ProtocolError('NOT_FOUND', `no ${input.target} "${input.targetId}"`);
    if (outcome === 'key_reused') throw new ProtocolError('IDEMPOTENCY_KEY_REUSED', 'this idempotency_key was used for an announcement to another target');
    // A retry with the same idempotency key: the announcement it made, 200.
    res.status(outcome === 'created' ? 201 : 200).json(announcement);
  });

  router.get('/api/announcements', optionallyAuthenticated, async (req: Request, res: Response) => {
    const target = singleQuery(req, 'target') ?? 'everyone';
    if (!(ANNOUNCEMENT_TARGETS as readonly string[]).includes(target)) {
      throw new ProtocolError('BAD_REQUEST', `"target" must be one of ${ANNOUNCEMENT_TARGETS.join(', ')}`);
    }
    const targetId = singleQuery(req, 'target_id') ?? null;
    if (target === 'everyone' ? targetId !== null : targetId === null || !ID_PATTERN.test(targetId)) {
      throw new ProtocolError(
        'BAD_REQUEST',
        target === 'everyone' ? '"target_id" must be absent for target everyone' : `"target_id" is required for target ${target}: an id matching ${ID_PATTERN.source}`,
      );
    }
    const limit = intQuery(req, 'limit', { min: 1, max: MAX_ANNOUNCEMENTS, fallback: MAX_ANNOUNCEMENTS });
    const list = await store.listActive(target as AnnouncementTarget, targetId, limit, viewerOf(res));
    if (!list) throw new ProtocolError('NOT_FOUND', `no ${target} "${targetId}"`);
    res.json(list);
  });

  router.get('/api/announcements/:id', optionallyAuthenticated, async (req: Request, res: Response) => {
    const isAdmin = (res.locals.caller as Caller | undefined)?.roles.has(ROLES.admin) ?? false;
    const announcement = await store.get(announcementId(req.params.id), isAdmin, viewerOf(res));
    if (!announcement) throw notFound();
    res.json(announcement);
  });

  router.patch('/api/announcements/:id', authenticated, admin, async (req: Request, res: Response) => {
    const id = announcementId(req.params.id);
    const { outcome, announcement } = await store.update(id, parseAnnouncementPatch(req.body));
    switch (outcome) {
      case 'not_found':
        throw notFound();
      case 'expired':
        throw new ProtocolError('ANNOUNCEMENT_EXPIRED', `announcement ${id} has expired`);
      case 'started':
        throw fieldProblem('starts_at', 'cannot change once the announcement is published');
      case 'bad_window':
        throw fieldProblem('expires_at', 'must be after starts_at');
      default:
        res.json(announcement);
    }
  });

  // Withdraws it: expires now (announcement_expired when it was published). Repeating is harmless.
  router.delete('/api/announcements/:id', authenticated, admin, async (req: Request, res: Response) => {
    const { outcome, announcement } = await store.expire(announcementId(req.params.id));
    if (outcome === 'not_found') throw notFound();
    res.json(announcement);
  });

  return router;
}
