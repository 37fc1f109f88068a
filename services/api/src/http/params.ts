import { ID_PATTERN, ProtocolError, parseIsoTime } from '@matchcast/protocol';
import { singleQuery } from '@matchcast/runtime';
import type { Request } from 'express';

const MAX_BIGINT = 9_223_372_036_854_775_807n;


export function intQuery(req: Request, name: string, range: { min: number; max: number; fallback: number }): number {
  const value = singleQuery(req, name);
  if (value === undefined) return range.fallback;
  if (!/^\d{1,9}$/.test(value) || Number(value) < range.min || Number(value) > range.max) {
    throw new ProtocolError('BAD_REQUEST', `"${name}" must be an integer from ${range.min} to ${range.max}`);
  }
  return Number(value);
}

export function boolQuery(req: Request, name: string): boolean {
  const value = singleQuery(req, name);
  if (value === undefined || value === 'false' || value === '0') return false;
  if (value === 'true' || value === '1') return true;
  throw new ProtocolError('BAD_REQUEST', `"${name}" must be true or false`);
}

/** A bigint id as decimal digits within Postgres's bigint range (kept a string: ids exceed 2^53). */
export function isBigintId(value: string): boolean {
  return /^\d{1,19}$/.test(value) && BigInt(value) <= MAX_BIGINT;
}

/** A notification id from the path, or BAD_REQUEST. */
export function notificationId(value: unknown): string {
  if (typeof value !== 'string' || !isBigintId(value)) {
    throw new ProtocolError('BAD_REQUEST', 'notification id must be a positive integer (decimal digits, within bigint range)');
  }
  return value;
}

/** A purchase id from the path, or BAD_REQUEST. */
export function purchaseId(value: unknown): string {
  if (typeof value !== 'string' || !isBigintId(value)) {
    throw new ProtocolError('BAD_REQUEST', 'purchase id must be a positive integer (decimal digits, within bigint range)');
  }
  return value;
}

export const FOLLOW_KINDS = ['team', 'league', 'match'] as const;
export type FollowKind = (typeof FOLLOW_KINDS)[number];

/** The `{kind}/{id}` of a follow path, or BAD_REQUEST. */
export function followTarget(kind: unknown, id: unknown): { kind: FollowKind; id: string } {
  if (!FOLLOW_KINDS.includes(kind as FollowKind)) throw new ProtocolError('BAD_REQUEST', `kind must be one of ${FOLLOW_KINDS.join(', ')}`);
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) throw new ProtocolError('BAD_REQUEST', `id must match ${ID_PATTERN.source}`);
  return { kind: kind as FollowKind, id };
}

/** An id from the path (league, team, match), or BAD_REQUEST. */
export function pathId(value: unknown, what: string): string {
  if (typeof value !== 'string' || !ID_PATTERN.test(value)) throw new ProtocolError('BAD_REQUEST', `${what} id must match ${ID_PATTERN.source}`);
  return value;
}

/** A time query parameter (protocol's parseIsoTime: a time with a zone, or a date) as an ISO string, or undefined; anything else is BAD_REQUEST. */
export function timeQuery(req: Request, name: string): string | undefined {
  const value = singleQuery(req, name);
  if (value === undefined) return undefined;
  const at = parseIsoTime(value, { allowDate: true });
  if (at === undefined) {
    throw new ProtocolError('BAD_REQUEST', `"${name}" must be an ISO 8601 time such as 2026-11-23T15:00:00Z (or a date, 2026-11-23) in the years 0001-9999`);
  }
  return new Date(at).toISOString();
}

/** A comma-separated list of allowed values (each once), or undefined. */
export function listQuery<T extends string>(req: Request, name: string, allowed: readonly T[]): T[] | undefined {
  const value = singleQuery(req, name);
  if (value === undefined) return undefined;
  const items = value.split(',');
  if (items.some((item) => !allowed.includes(item as T))) {
    throw new ProtocolError('BAD_REQUEST', `"${name}" must be a comma-separated list of ${allowed.join(', ')}`);
  }
  return [...new Set(items)] as T[];
}

/** An announcement id from the path, or BAD_REQUEST. */
export function announcementId(value: unknown): string {
  if (typeof value !== 'string' || !isBigintId(value)) {
    throw new ProtocolError('BAD_REQUEST', 'announcement id must be a positive integer (decimal digits, within bigint range)');
  }
  return value;
}
