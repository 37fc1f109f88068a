import { ID_PATTERN } from '@matchcast/protocol';
import { FieldErrors, objectBody, rejectUnknownFields } from './fields';
import { futureTime, idempotencyKeyField, MAX_MESSAGE, MAX_TITLE, oneOf, PRIORITIES, text, timeField } from './notification-input';

/** 007_announcements.sql's vocabularies. */
export const ANNOUNCEMENT_TYPES = ['general', 'schedule_change', 'result_update', 'weather_alert', 'emergency'] as const;
export const ANNOUNCEMENT_TARGETS = ['everyone', 'league', 'team', 'match'] as const;
export type AnnouncementTarget = (typeof ANNOUNCEMENT_TARGETS)[number];

/** A validated POST /api/announcements body. */
export interface AnnouncementInput {
  readonly title: string;
  readonly message: string;
  readonly type: string;
  readonly priority: string;
  readonly target: AnnouncementTarget;
  readonly targetId: string | null;
  readonly startsAt: Date | null;
  readonly expiresAt: Date | null;
  /** The creator's key: a retry with it answers the announcement it made. */
  readonly idempotencyKey: string | null;
}

const EDITABLE = ['title', 'message', 'type', 'priority', 'starts_at', 'expires_at'];

export function parseAnnouncementInput(raw: unknown, nowMs = Date.now()): AnnouncementInput {
  const body = objectBody(raw);
  const errors = new FieldErrors();
  rejectUnknownFields(body, [...EDITABLE, 'target', 'target_id', 'idempotency_key'], errors);
  const title = text(body, 'title', { min: 1, max: MAX_TITLE, required: true }, errors);
  const message = text(body, 'message', { min: 1, max: MAX_MESSAGE, required: true }, errors);
  const type = required(body, 'type', errors) && oneOf(body, 'type', ANNOUNCEMENT_TYPES, errors);
  const priority = oneOf(body, 'priority', PRIORITIES, errors) ?? 'normal';
  const target = required(body, 'target', errors) && (oneOf(body, 'target', ANNOUNCEMENT_TARGETS, errors) as AnnouncementTarget | null);
  const targetId = body.target_id;
  if (target === 'everyone' && targetId !== undefined && targetId !== null) errors.add('target_id', 'must be absent when target is everyone');
  if (target && target !== 'everyone' && (typeof targetId !== 'string' || !ID_PATTERN.test(targetId))) {
    errors.add('target_id', `is required for target ${target}: an id matching ${ID_PATTERN.source}`);
  }
  const startsAt = timeField(body, 'starts_at', errors);
  const expiresAt = futureTime(body, 'expires_at', nowMs, errors);
  if (startsAt && expiresAt && expiresAt <= startsAt) errors.add('expires_at', 'must be after starts_at');
  const idempotencyKey = idempotencyKeyField(body, errors);
  errors.throwIfAny();
  return {
    title: title!,
    message: message!,
    type: type as string,
    priority,
    target: target as AnnouncementTarget,
    targetId: target === 'everyone' ? null : (targetId as string),
    startsAt,
    expiresAt,
    idempotencyKey,
  };
}

/**
 * A validated PATCH /api/announcements/{id} body: the fields to change, as
 * matchcast_update_announcement takes them (null clears starts_at / expires_at). The target
 * is not editable: an announcement for someone else is a new announcement.
 */
export function parseAnnouncementPatch(raw: unknown, nowMs = Date.now()): Record<string, unknown> {
  const body = objectBody(raw);
  const errors = new FieldErrors();
  for (const field of ['target', 'target_id']) if (field in body) errors.add(field, 'cannot be changed: create a new announcement');
  rejectUnknownFields(body, [...EDITABLE, 'target', 'target_id'], errors);
  if (!EDITABLE.some((field) => field in body)) errors.add('body', `give at least one of ${EDITABLE.join(', ')}`);
  for (const field of ['title', 'message', 'type', 'priority']) if (body[field] === null) errors.add(field, 'cannot be null');
  const patch: Record<string, unknown> = {};
  if ('title' in body) patch.title = text(body, 'title', { min: 1, max: MAX_TITLE, required: false }, errors);
  if ('message' in body) patch.message = text(body, 'message', { min: 1, max: MAX_MESSAGE, required: false }, errors);
  if ('type' in body) patch.type = oneOf(body, 'type', ANNOUNCEMENT_TYPES, errors);
  if ('priority' in body) patch.priority = oneOf(body, 'priority', PRIORITIES, errors);
  if ('starts_at' in body) patch.starts_at = timeField(body, 'starts_at', errors)?.toISOString() ?? null;
  if ('expires_at' in body) patch.expires_at = futureTime(body, 'expires_at', nowMs, errors)?.toISOString() ?? null;
  if (typeof patch.starts_at === 'string' && typeof patch.expires_at === 'string' && patch.expires_at <= patch.starts_at) {
    errors.add('expires_at', 'must be after starts_at');
  }
  errors.throwIfAny();
  return patch;
}

function required(body: Record<string, unknown>, field: string, errors: FieldErrors): true | null {
  if (body[field] !== undefined && body[field] !== null) return true;
  errors.add(field, 'is required');
  return null;
}
