import { ID_PATTERN, isCanaryStreamName, isStreamName } from './channels';
import type { ForwardedNotification, Heartbeat, OutboxEvent, OutboxRef } from './messages';

/**
 * The one decoder for everything that arrives over the bus — NOTIFY payloads (Postgres path),
 * the listener's envelopes and heartbeats (Redis path). Nothing on the bus is trusted: a buggy
 * listener or any other client of the same Redis must not be able to crash or wedge a gateway,
 * so every field is checked and anything else throws InvalidBusMessage (counted and dropped by
 * the caller).
 */
export class InvalidBusMessage extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'InvalidBusMessage';
  }
}

const OUTBOX_ID = /^[1-9]\d{0,18}$/;
const EVENT_TYPE = /^[a-z][a-z_]{0,39}$/;

function parseObject(text: unknown, what: string): Record<string, unknown> {
  if (typeof text !== 'string') throw new InvalidBusMessage(`${what} is not a string`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InvalidBusMessage(`${what} is not JSON`);
  }
  if (!isPlainObject(value)) throw new InvalidBusMessage(`${what} is not a JSON object`);
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

/**
 * Why an event — a notification's, or a row read from the outbox — is not one to deliver, or
 * undefined when it is. The one check of both paths: a row the live path drops (a stream no
 * channel names, a match_id routing cannot trust) must not reach clients by a gap fill or a
 * catch-up either (rows written before 022_domain_row_limits, whose id CHECKs are NOT VALID).
 */
export function eventFault(v: Record<string, unknown>): string | undefined {
  const fault = positionFault(v);
  if (fault !== undefined) return fault;
  if (typeof v.type !== 'string' || !EVENT_TYPE.test(v.type)) return 'type is malformed';
  if (typeof v.timestamp !== 'string' || !Number.isFinite(Date.parse(v.timestamp))) return 'timestamp is not a date';
  if (!isPlainObject(v.data)) return 'data is not an object';
  // Routing trusts match_id: a match stream's events carry that match's id, others a valid id or null.
  const stream = v.stream as string;
  const matchOk = stream.startsWith('match:')
    ? v.match_id === stream.slice('match:'.length)
    : v.match_id === null || (typeof v.match_id === 'string' && ID_PATTERN.test(v.match_id));
  return matchOk ? undefined : 'match_id does not fit the stream';
}

/** What a reference to a row must have right too: its outbox id, stream and seq. */
function positionFault(v: Record<string, unknown>): string | undefined {
  if (typeof v.id !== 'string' || !OUTBOX_ID.test(v.id)) return 'id is not an outbox id';
  // A canary stream is no client's, but it travels the same path (it proves that path).
  if (typeof v.stream !== 'string' || !(isStreamName(v.stream) || isCanaryStreamName(v.stream))) return 'stream is not a stream name';
  if (!Number.isSafeInteger(v.seq) || (v.seq as number) < 1) return 'seq is not an integer ≥ 1';
  return undefined;
}

/** Decodes a NOTIFY payload written by the outbox trigger: the event, or a reference to its row. */
export function decodeNotification(payload: unknown): OutboxEvent | OutboxRef {
  const v = parseObject(payload, 'notification payload');
  const ref = v.ref === true;
  const fault = ref ? positionFault(v) : eventFault(v);
  if (fault !== undefined) throw new InvalidBusMessage(fault);
  return ref ? { ref: true, id: v.id as string, stream: v.stream as string, seq: v.seq as number } : (v as unknown as OutboxEvent);
}

/** Decodes the listener's envelope on REDIS_EVENTS_CHANNEL and the notification inside it. */
export function decodeForwarded(message: unknown): OutboxEvent | OutboxRef {
  const envelope = parseObject(message, 'envelope') as Partial<ForwardedNotification>;
  return decodeNotification(envelope.payload);
}

/** The longest listener id a heartbeat may carry (the listener's LISTENER_ID is held to it). */
export const LISTENER_ID_MAX_LENGTH = 200;

/** Decodes the listener's heartbeat on REDIS_HEARTBEAT_CHANNEL. */
export function decodeHeartbeat(message: unknown): Heartbeat {
  const v = parseObject(message, 'heartbeat');
  if (typeof v.listener_id !== 'string' || v.listener_id.length === 0 || v.listener_id.length > LISTENER_ID_MAX_LENGTH) {
    throw new InvalidBusMessage('listener_id is malformed');
  }
  if (!Number.isFinite(v.sent_at)) throw new InvalidBusMessage('sent_at is not a number');
  if (!isCount(v.published) || !isCount(v.dropped)) throw new InvalidBusMessage('published/dropped are not counts');
  return v as unknown as Heartbeat;
}

export function isRef(value: OutboxEvent | OutboxRef): value is OutboxRef {
  return (value as OutboxRef).ref === true;
}
