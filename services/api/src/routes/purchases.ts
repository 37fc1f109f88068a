import { ROLES } from '@matchcast/auth';
import { ProtocolError } from '@matchcast/protocol';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { callerOf, requireRole } from '../http/auth';
import { decodeCursor, encodeCursor } from '../http/cursor';
import { singleQuery } from '@matchcast/runtime';
import { intQuery, purchaseId } from '../http/params';
import type { PurchaseStore } from '../store/purchases';
import { parsePurchaseInput, parseStatusInput } from '../validate/purchase-input';

export const MAX_PAGE = 100;
/** A buyer's purchases that may be pending at once (migration 016 counts them). */
export const MAX_PENDING_PURCHASES = 20;

const notFound = () => new ProtocolError('NOT_FOUND', 'no such purchase');

/**
 * Ticket purchases. A buyer sees only their own (another user's id is 404, exactly like one that
 * never existed); admins see all; the payment side (role service or admin) moves them on.
 */
export function purchaseRoutes(authenticated: RequestHandler, store: PurchaseStore): Router {
  const router = Router();

  router.post('/api/purchases', authenticated, async (req: Request, res: Response) => {
    const input = parsePurchaseInput(req.body);
    const { outcome, purchase } = await store.create(callerOf(res).userId, input.matchId, input.quantity, input.idempotencyKey);
    switch (outcome) {
      case 'no_match':
        throw new ProtocolError('NOT_FOUND', `no match "${input.matchId}"`);
      case 'not_on_sale':
        throw new ProtocolError('MATCH_NOT_ON_SALE', `match "${input.matchId}" is finished or cancelled: tickets are not on sale`);
      case 'too_many_pending':
        throw new ProtocolError('TOO_MANY_PENDING_PURCHASES', `at most ${MAX_PENDING_PURCHASES} purchases may wait for payment at once`);
      case 'key_reused':
        throw new ProtocolError('IDEMPOTENCY_KEY_REUSED', 'this idempotency_key was used for a purchase of another match or quantity');
      default:
        // A retry with the same idempotency key: the purchase it made, 200.
        res.status(outcome === 'created' ? 201 : 200).json(purchase);
    }
  });

  router.get('/api/purchases/:id', authenticated, async (req: Request, res: Response) => {
    const caller = callerOf(res);
    const purchase = await store.get(purchaseId(req.params.id), caller.userId, caller.roles.has(ROLES.admin));
    if (!purchase) throw notFound();
    res.json(purchase);
  });

  router.patch('/api/purchases/:id', authenticated, requireRole(ROLES.service, ROLES.admin), async (req: Request, res: Response) => {
    const id = purchaseId(req.params.id);
    const status = parseStatusInput(req.body);
    const { outcome, purchase } = await store.setStatus(id, status);
    if (outcome === 'not_found') throw notFound();
    if (outcome === 'invalid_transition') {
      throw new ProtocolError('INVALID_TRANSITION', `a ${purchase!.status} purchase cannot become ${status}`);
    }
    res.json(purchase);
  });

  router.get('/api/me/purchases', authenticated, async (req: Request, res: Response) => {
    const limit = intQuery(req, 'limit', { min: 1, max: MAX_PAGE, fallback: 20 });
    const cursor = singleQuery(req, 'cursor');
    const rows = await store.list(callerOf(res).userId, limit, cursor === undefined ? null : decodeCursor(cursor));
    const page = rows.slice(0, limit);
    res.json({ purchases: page, next_cursor: rows.length > limit ? encodeCursor(page[page.length - 1]!.id) : null });
  });

  return router;
}
