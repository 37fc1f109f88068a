import { ID_PATTERN, isStorableText, parseIsoTime } from '@matchcast/protocol';
import { FieldErrors, objectBody, rejectUnknownFields } from './fields';
import { codePoints } from './text';

/** A validated POST /api/notifications body, ready for matchcast_notify_users. */
export interface NotificationInput {
  /** Distinct recipients, in the order given. */
  readonly userIds: readonly string[];
  readonly title: string;
  readonly message: string;
  readonly type: string;
  readonly priority: string | null;
  readonly matchId: string | null;
  readonly teamId: string | null;
  readonly leagueId: string | null;
  readonly data: Record<string, unknown> | null;
  readonly expiresAt: Date | null;
  /** The idempotency key as stored (namespaced, so it can never collide with the notifier's `outbox:<id>`). */
  readonly sourceKey: string | null;
}

// The limits of 004_users.sql's notification table, checked here first so that every bad
// field gets its own message instead of one constraint violation.
export const MAX_RECIPIENTS = 1000;
export const MAX_TITLE = 200;
export const MAX_MESSAGE = 2000;
export const MAX_DATA_BYTES = 4096;
export const MAX_IDEMPOTENCY_KEY = 128;
export const PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
const TYPE_PATTERN = /^[a-z][a-z0-9_]{0,39}$/;
const KEY_PATTERN = /^[\x20-\x7e]+$/;
const MAX_DATA_DEPTH = 16;
const FIELDS = ['user_ids', 'user_id', 'title', 'message', 'type', 'priority', 'match_id', 'team_id', 'league_id', 'data', 'expires_at', 'idempotency_key'];

export const IDEMPOTENCY_PREFIX = 'api:';

export function parseNotificationInput(raw: unknown, nowMs = Date.now()): NotificationInput {
  const body = objectBody(raw);
  const errors = new FieldErrors();
  rejectUnknownFields(body, FIELDS, errors);
  const input: NotificationInput = {
    userIds: recipients(body, errors),
    title: text(body, 'title', { min: 1, max: MAX_TITLE, required: true }, errors) ?? '',
    message: text(body, 'message', { min: 0, max: MAX_MESSAGE, required: true }, errors) ?? '',
    type: pattern(body, 'type', TYPE_PATTERN, 'must be lower_snake_case, a letter then up to 39 of [a-z0-9_]', true, errors) ?? '',
    priority: oneOf(body, 'priority', PRIORITIES, errors),
    matchId: pattern(body, 'match_id', ID_PATTERN, `must match ${ID_PATTERN.source}`, false, errors),
    teamId: pattern(body, 'team_id', ID_PATTERN, `must match ${ID_PATTERN.source}`, false, errors),
    leagueId: pattern(body, 'league_id', ID_PATTERN, `must match ${ID_PATTERN.source}`, false, errors),
    data: jsonObject(body, 'data', errors),
    expiresAt: futureTime(body, 'expires_at', nowMs, errors),
    sourceKey: idempotencyKey(body, errors),
  };
  errors.throwIfAny();
  return input;
}

const absent = (value: unknown): boolean => value === undefined || value === null;

function recipients(body: Record<string, unknown>, errors: FieldErrors): string[] {
  const { user_ids: many, user_id: one } = body;
  if (!absent(many) && !absent(one)) {
    errors.add('user_id', 'give user_ids or user_id, not both');
    return [];
  }
  if (absent(many) && absent(one)) {
    errors.add('user_ids', 'is required (or user_id for one recipient)');
    return [];
  }
  if (!absent(one)) {
    if (typeof one !== 'string' || !ID_PATTERN.test(one)) errors.add('user_id', `must be a user id matching ${ID_PATTERN.source}`);
    return typeof one === 'string' ? [one] : [];
  }
  if (!Array.isArray(many) || many.length === 0 || many.length > MAX_RECIPIENTS) {
    errors.add('user_ids', `must be an array of 1 to ${MAX_RECIPIENTS} user ids`);
    return [];
  }
  const bad = many.findIndex((id) => typeof id !== 'string' || !ID_PATTERN.test(id));
  if (bad >= 0) errors.add(`user_ids[${bad}]`, `must be a user id matching ${ID_PATTERN.source}`);
  return [...new Set(many as string[])];
}

/** A string field of limited length (code points), storable by Postgres; null when absent. */
export function text(
  body: Record<string, unknown>,
  field: string,
  limits: { min: number; max: number; required: boolean },
  errors: FieldErrors,
): string | null {
  const value = body[field];
  if (absent(value)) {
    if (limits.required) errors.add(field, 'is required');
    return null;
  }
  if (typeof value !== 'string') return errors.reject(field, 'must be a string');
  const length = codePoints(value);
  if (length < limits.min || length > limits.max) return errors.reject(field, `must be ${limits.min} to ${limits.max} characters`);
  if (limits.min > 0 && value.trim() === '') return errors.reject(field, 'must not be blank');
  if (!isStorableText(value)) return errors.reject(field, 'must not contain NUL or unpaired surrogate characters');
  return value;
}

export function pattern(body: Record<string, unknown>, field: string, re: RegExp, problem: string, required: boolean, errors: FieldErrors): string | null {
  const value = body[field];
  if (absent(value)) {
    if (required) errors.add(field, 'is required');
    return null;
  }
  if (typeof value !== 'string' || !re.test(value)) return errors.reject(field, problem);
  return value;
}

export function oneOf(body: Record<string, unknown>, field: string, allowed: readonly string[], errors: FieldErrors): string | null {
  const value = body[field];
  if (absent(value)) return null;
  if (typeof value !== 'string' || !allowed.includes(value)) return errors.reject(field, `must be one of ${allowed.join(', ')}`);
  return value;
}

function jsonObject(body: Record<string, unknown>, field: string, errors: FieldErrors): Record<string, unknown> | null {
  const value = body[field];
  if (absent(value)) return null;
  if (typeof value !== 'object' || Array.isArray(value)) return errors.reject(field, 'must be a JSON object');
  const problem = storedJsonProblem(value);
  if (problem) return errors.reject(field, problem);
  return value as Record<string, unknown>;
}

/**
 * Why Postgres would refuse this value as the notification's `data`, if it would: too deep,
 * text it cannot store, a number that overflowed (stored as null), or larger than MAX_DATA_BYTES as jsonb prints it (JSON plus a space
 * after every `:` and `,`). Iterative, so hostile nesting cannot exhaust the stack.
 */
export function storedJsonProblem(root: unknown): string | undefined {
  let spacing = 0;
  const stack: Array<{ value: unknown; depth: number }> = [{ value: root, depth: 1 }];
  while (stack.length > 0) {
    const { value, depth } = stack.pop()!;
    if (typeof value === 'string') {
      if (!isStorableText(value)) return 'must not contain NUL or unpaired surrogate characters';
      continue;
    }
    // A literal past a double's range (1e400) parses as Infinity, which would be stored as null.
    if (typeof value === 'number' && !Number.isFinite(value)) return 'must hold finite numbers only (a number this large is stored as null)';
    if (value === null || typeof value !== 'object') continue;
    if (depth > MAX_DATA_DEPTH) return `must not nest deeper than ${MAX_DATA_DEPTH} levels`;
    const children = Array.isArray(value) ? value : Object.values(value);
    if (!Array.isArray(value)) {
      const keys = Object.keys(value);
      if (keys.some((key) => !isStorableText(key))) return 'must not contain NUL or unpaired surrogate characters';
      spacing += keys.length;
    }
    spacing += Math.max(children.length - 1, 0);
    for (const child of children) stack.push({ value: child, depth: depth + 1 });
  }
  const bytes = Buffer.byteLength(JSON.stringify(root)) + spacing;
  return bytes > MAX_DATA_BYTES ? `must be at most ${MAX_DATA_BYTES} bytes as stored (is ${bytes})` : undefined;
}

/** An ISO 8601 time with a zone (protocol's parseIsoTime); null when absent or refused (the problem recorded). */
export function timeField(body: Record<string, unknown>, field: string, errors: FieldErrors): Date | null {
  const value = body[field];
  if (absent(value)) return null;
  const ms = typeof value === 'string' ? parseIsoTime(value) : undefined;
  if (ms === undefined) return errors.reject(field, 'must be an ISO 8601 time with a zone in the years 0001-9999, e.g. 2030-01-31T18:00:00Z');
  return new Date(ms);
}

export function futureTime(body: Record<string, unknown>, field: string, nowMs: number, errors: FieldErrors): Date | null {
  const at = timeField(body, field, errors);
  if (at && at.getTime() <= nowMs) return errors.reject(field, 'must be in the future');
  return at;
}

/** The body's `idempotency_key` as sent (1 to MAX_IDEMPOTENCY_KEY printable ASCII characters), or null. */
export function idempotencyKeyField(body: Record<string, unknown>, errors: FieldErrors): string | null {
  const value = body.idempotency_key;
  if (absent(value)) return null;
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_IDEMPOTENCY_KEY || !KEY_PATTERN.test(value)) {
    return errors.reject('idempotency_key', `must be 1 to ${MAX_IDEMPOTENCY_KEY} printable ASCII characters`);
  }
  return value;
}

function idempotencyKey(body: Record<string, unknown>, errors: FieldErrors): string | null {
  const key = idempotencyKeyField(body, errors);
  return key === null ? null : IDEMPOTENCY_PREFIX + key;
}
