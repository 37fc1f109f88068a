/**
 * The one decoder for what the server sends (WebSocket frames and SSE `data:` lines alike).
 * A frame that is not JSON, not an object, or not shaped as its `type` says is dropped: a
 * buggy or hostile server or proxy must not make the client throw, nor put into its positions
 * (and so into the next `resume` / `since`) a value the server would refuse — a refused
 * reconnect subscription is fatal.
 */
import type { IncomingMessage } from './transport.js';
import { CHANNEL_PATTERN, STREAM_PATTERN } from './wire.js';

type Fields = Record<string, unknown>;

const isString = (value: unknown): value is string => typeof value === 'string';
const isStringList = (value: unknown): value is string[] => Array.isArray(value) && value.every(isString);
/** A timer's interval in ms that setInterval takes as it is (past 2^31 − 1 it would fire at once, and again). */
const isInterval = (value: unknown): boolean => Number.isInteger(value) && (value as number) > 0 && (value as number) < 2 ** 30;
const optional = (value: unknown, check: (value: unknown) => boolean) => value === undefined || check(value);

/** What a delivered event must carry: a channel and stream the server could name, a seq a `resume` can send back. */
function isDelivered(m: Fields): boolean {
  return (
    isString(m.type) &&
    isString(m.channel) &&
    CHANNEL_PATTERN.test(m.channel) &&
    isString(m.stream) &&
    STREAM_PATTERN.test(m.stream) &&
    typeof m.seq === 'number' &&
    Number.isSafeInteger(m.seq) &&
    m.seq >= 0 &&
    optional(m.timestamp, isString) &&
    m.data !== null &&
    typeof m.data === 'object' &&
    !Array.isArray(m.data)
  );
}

/** The fields each control message is used for, by type; unknown types pass (the client ignores them). */
function isControl(m: Fields): boolean {
  switch (m.type) {
    case 'connection_status':
      return isString(m.server_time) && optional(m.keep_alive_ms, isInterval);
    case 'subscribed':
    case 'resumed':
    case 'unsubscribed':
      return isStringList(m.channels);
    case 'refreshed':
      return m.expires_at === null || optional(m.expires_at, isString);
    case 'error':
      return isString(m.code) && optional(m.message, isString) && optional(m.channel, isString) && optional(m.stream, isString);
    default:
      return isString(m.type);
  }
}

/** Parses and checks one message from the wire; undefined when it is to be dropped. */
export function decodeMessage(data: unknown): IncomingMessage | undefined {
  let message: unknown;
  try {
    message = JSON.parse(String(data));
  } catch {
    return undefined;
  }
  if (message === null || typeof message !== 'object' || Array.isArray(message)) return undefined;
  const fields = message as Fields;
  // An event is anything with a stream and a seq (isEvent): it must then be a well-formed one.
  if ('stream' in fields && 'seq' in fields) return isDelivered(fields) ? (message as IncomingMessage) : undefined;
  return isControl(fields) ? (message as IncomingMessage) : undefined;
}
