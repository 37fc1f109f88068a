import type { ErrorCode } from './errors';
import type { ClientEventType, DeliveredMessage, OutboxEvent } from './messages';

/** Server → client control messages. Event messages are built by `eventMessage`. */
export type ServerMessage =
  /** `keep_alive_ms` (SSE): the stream says something — an event or a `ping` — at least this often. */
  | { type: 'connection_status'; status: 'connected'; connection_id: string; server_time: string; keep_alive_ms?: number }
  | { type: 'subscribed'; channels: string[] }
  | { type: 'unsubscribed'; channels: string[] }
  | { type: 'pong'; timestamp: string }
  | { type: 'refreshed'; expires_at: string | null }
  /** After a subscribe with `resume` or `since`: every replay it started is done (later events are live). */
  | { type: 'resumed'; channels: string[] }
  /** `channels`: the subscribe message's, when the error refuses that message whole (answering it instead of `subscribed`). */
  | { type: 'error'; code: ErrorCode; message: string; channel?: string; stream?: string; channels?: string[] };

/** The delivered form of an event on one channel, in the field order clients know (docs/protocol.md). */
export function eventMessage(event: OutboxEvent, channel: string): DeliveredMessage {
  return {
    // A canary event never gets here: it is routed to no channel (routing.ts).
    type: event.type as ClientEventType,
    match_id: event.match_id,
    data: event.data,
    timestamp: event.timestamp,
    channel,
    stream: event.stream,
    seq: event.seq,
    id: event.id,
  };
}
