import type { OutboxEvent, OutboxRef } from './messages';

/**
 * Decodes a NOTIFY payload written by the outbox trigger: either the full event or, when
 * the event would exceed Postgres' 8000-byte payload limit, a reference to its outbox row.
 * Returns undefined for anything that is neither (logged and counted by the caller).
 */
export function decodeNotification(payload: string): OutboxEvent | OutboxRef | undefined {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (!value || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.id !== 'string' || typeof v.stream !== 'string' || typeof v.seq !== 'number') return undefined;
  if (v.ref === true) return { ref: true, id: v.id, stream: v.stream, seq: v.seq };
  if (typeof v.type !== 'string' || typeof v.timestamp !== 'string' || !v.data || typeof v.data !== 'object') {
    return undefined;
  }
  return value as OutboxEvent;
}

export function isRef(value: OutboxEvent | OutboxRef): value is OutboxRef {
  return (value as OutboxRef).ref === true;
}
