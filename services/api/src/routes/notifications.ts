import { ROLES } from '@matchcast/auth';
import { ProtocolError } from '@matchcast/protocol';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { callerOf, requireRole } from '../http/auth';
import { decodeCursor, encodeCursor } from '../http/cursor';
import { singleQuery } from '@matchcast/runtime';
import { boolQuery, intQuery, notificationId } from '../http/params';
import type { ApiMetrics } from '../metrics';
import type { NotificationStore } from '../store/notifications';
import { parseNotificationInput } from '../validate/notification-input';

export const MAX_PAGE = 100;
/** Offsets are for small jumps; deep pages use the cursor (an offset scan grows with its depth). */
export const MAX_OFFSET = 10_000;

const notFound = () => new ProtocolError('NOT_FOUND', 'no such notification');

/**
 * The notification centre of the SSE notifications document, under /api. The caller only ever
 * sees their own notifications: another user's id is 404, exactly like an id that never existed.
 */
export function notificationRoutes(authenticated: RequestHandler, store: NotificationStore, metrics: ApiMetrics): Router {
  const router = Router();

  router.get('/api/notifications', authenticated, async (req: Request, res: Response) => {
    const userId = callerOf(res).userId;
    const unreadOnly = boolQuery(req, 'unread_only');
    const limit = intQuery(req, 'limit', { min: 1, max: MAX_PAGE, fallback: 20 });
    const cursor = singleQuery(req, 'cursor');
    if (cursor !== undefined && singleQuery(req, 'offset') !== undefined) {
      throw new ProtocolError('BAD_REQUEST', 'give "cursor" or "offset", not both');
    }
    const offset = intQuery(req, 'offset', { min: 0, max: MAX_OFFSET, fallback: 0 });
    const beforeId = cursor === undefined ? null : decodeCursor(cursor);
    const { notifications, ...counts } = await store.page({ userId, unreadOnly, limit, offset, beforeId });
    const page = notifications.slice(0, limit);
    const more = notifications.length > limit;
    res.json({ notifications: page, ...counts, next_cursor: more ? encodeCursor(page[page.length - 1]!.id) : null });
  });

  router.get('/api/notifications/unread-count', authenticated, async (_req: Request, res: Response) => {
    res.json({ unread_count: await store.unreadCount(callerOf(res).userId) });
  });

  router.post('/api/notifications/mark-all-read', authenticated, async (_req: Request, res: Response) => {
    const userId = callerOf(res).userId;
    const marked = await store.markAllRead(userId);
    res.json({ marked_as_read: marked, unread_count: await store.unreadCount(userId) });
  });

  router.patch('/api/notifications/:id/read', authenticated, async (req: Request, res: Response) => {
    const userId = callerOf(res).userId;
    const notification = await store.markRead(userId, notificationId(req.params.id));
    if (!notification) throw notFound();
    res.json({ ...notification, unread_count: await store.unreadCount(userId) });
  });

  router.delete('/api/notifications/:id', authenticated, async (req: Request, res: Response) => {
    if (!(await store.delete(callerOf(res).userId, notificationId(req.params.id)))) throw notFound();
    res.status(204).end();
  });

  router.post('/api/notifications', authenticated, requireRole(ROLES.service, ROLES.admin), async (req: Request, res: Response) => {
    const input = parseNotificationInput(req.body);
    const { created, duplicates } = await store.create(input);
    metrics.notificationsCreated.inc(created.length);
    // Nothing new (a replay, or no recipient may get it): 200.
    res.status(created.length > 0 ? 201 : 200).json({
      created: created.length,
      duplicates,
      // Left out by the private-league rule: not members of the league the notification is about.
      skipped: input.userIds.length - created.length - duplicates,
      notifications: created,
    });
  });

  return router;
}
