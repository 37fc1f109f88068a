import { isStreamName, parseChannel } from './channels';
import { ProtocolError } from './errors';

/** Client → server messages (subscribe / unsubscribe / ping as clients send them, plus resume). */
export type ClientMessage =
  | { action: 'subscribe'; channels: string[]; resume: Map<string, number>; since?: string }
  | { action: 'unsubscribe'; channels: string[] }
  | { action: 'ping' }
  | { action: 'refresh'; token: string };

export interface ParseLimits {
  maxChannelsPerMessage: number;
}

function channelList(value: unknown, limits: ParseLimits): string[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new ProtocolError('BAD_MESSAGE', '"channels" must be a non-empty array of channel names');
  }
  if (value.length > limits.maxChannelsPerMessage) {
    throw new ProtocolError('TOO_MANY_CHANNELS', `at most ${limits.maxChannelsPerMessage} channels per message`);
  }
  return [...new Set(value.map((name) => parseChannel(name).name))];
}

/** Resume map {stream: last seen seq}: every key a stream channel, every value a seq ≥ 0. */
function resumeMap(value: unknown, limits: ParseLimits): Map<string, number> {
  const resume = new Map<string, number>();
  if (value === undefined) return resume;
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new ProtocolError('BAD_RESUME', '"resume" must be an object of {stream: seq}');
  }
  const entries = Object.entries(value);
  if (entries.length > limits.maxChannelsPerMessage) {
    throw new ProtocolError('TOO_MANY_CHANNELS', `at most ${limits.maxChannelsPerMessage} resume entries`);
  }
  for (const [stream, seq] of entries) {
    parseChannel(stream); // a malformed name is refused with the channel's own code
    if (!isStreamName(stream)) {
      throw new ProtocolError('BAD_RESUME', `"${stream}" is not a stream (match:<id>, league:<id>, team:<id>, all, user:<id> or purchase:<id>)`);
    }
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
      throw new ProtocolError('BAD_RESUME', `resume seq for "${stream}" must be a non-negative integer`);
    }
    resume.set(stream, seq);
  }
  return resume;
}

/**
 * `since`: the `timestamp` of the last event the client received. Streams the client has
 * never seen (so has no seq for) but that changed after it are replayed from that point.
 */
function sinceTimestamp(value: unknown): string {
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) {
    throw new ProtocolError('BAD_RESUME', '"since" must be an ISO-8601 timestamp');
  }
  return new Date(value).toISOString();
}

/** Parses one text frame; throws ProtocolError with a stable code on anything malformed. */
export function parseClientMessage(text: string, limits: ParseLimits): ClientMessage {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ProtocolError('BAD_JSON', undefined, { cause: error });
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ProtocolError('BAD_MESSAGE', 'message must be a JSON object with an "action"');
  }
  const message = raw as Record<string, unknown>;
  switch (message.action) {
    case 'subscribe':
      return {
        action: 'subscribe',
        channels: channelList(message.channels, limits),
        resume: resumeMap(message.resume, limits),
        ...(message.since === undefined ? {} : { since: sinceTimestamp(message.since) }),
      };
    case 'unsubscribe':
      return { action: 'unsubscribe', channels: channelList(message.channels, limits) };
    case 'ping':
      return { action: 'ping' };
    case 'refresh':
      if (typeof message.token !== 'string' || message.token.length === 0) {
        throw new ProtocolError('BAD_MESSAGE', '"token" must be a non-empty string');
      }
      return { action: 'refresh', token: message.token };
    default:
      throw new ProtocolError(
        'UNKNOWN_ACTION',
        `unknown action ${JSON.stringify(message.action)}; expected subscribe, unsubscribe, ping or refresh`,
      );
  }
}
