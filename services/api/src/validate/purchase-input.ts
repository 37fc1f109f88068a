import { ID_PATTERN } from '@matchcast/protocol';
import { FieldErrors, objectBody, rejectUnknownFields } from './fields';

/** 006_purchases.sql's limits, checked here first so every bad field gets its own message. */
export const MAX_TICKETS = 10;
export const MAX_IDEMPOTENCY_KEY = 128;
export const PURCHASE_STATUSES = ['pending', 'paid', 'issued', 'cancelled', 'refunded'] as const;
const KEY_PATTERN = /^[\x20-\x7e]+$/;

/** A validated POST /api/purchases body. */
export interface PurchaseInput {
  readonly matchId: string;
  readonly quantity: number;
  readonly idempotencyKey: string | null;
}

export function parsePurchaseInput(raw: unknown): PurchaseInput {
  const body = objectBody(raw);
  const errors = new FieldErrors();
  rejectUnknownFields(body, ['match_id', 'quantity', 'idempotency_key'], errors);
  const { match_id: matchId, quantity, idempotency_key: key } = body;
  if (typeof matchId !== 'string' || !ID_PATTERN.test(matchId)) errors.add('match_id', `is required: a match id matching ${ID_PATTERN.source}`);
  if (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity < 1 || quantity > MAX_TICKETS) {
    errors.add('quantity', `is required: an integer from 1 to ${MAX_TICKETS}`);
  }
  if (key !== undefined && key !== null && (typeof key !== 'string' || key.length > MAX_IDEMPOTENCY_KEY || !KEY_PATTERN.test(key))) {
    errors.add('idempotency_key', `must be 1 to ${MAX_IDEMPOTENCY_KEY} printable ASCII characters`);
  }
  errors.throwIfAny();
  return { matchId: matchId as string, quantity: quantity as number, idempotencyKey: (key as string | null | undefined) ?? null };
}

/** A validated PATCH /api/purchases/{id} body: the status to move to. */
export function parseStatusInput(raw: unknown): string {
  const body = objectBody(raw);
  const errors = new FieldErrors();
  rejectUnknownFields(body, ['status'], errors);
  const status = body.status;
  if (typeof status !== 'string' || !(PURCHASE_STATUSES as readonly string[]).includes(status)) {
    errors.add('status', `is required: one of ${PURCHASE_STATUSES.join(', ')}`);
  }
  errors.throwIfAny();
  return status as string;
}
