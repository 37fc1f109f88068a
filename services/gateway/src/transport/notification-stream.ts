import { randomUUID } from 'node:crypto';
import { ID_PATTERN, ProtocolError, type OutboxEvent, type ServerMessage } from '@matchcast/protocol';
import type { Logger } from '@matchcast/runtime';
import type { Request } from 'express';
import type pg from 'pg';
import type { GatewayMetrics } from '../metrics';
import type { Caller } from '../sessions/replay';
import type { Sessions, SubscribeRequest } from '../sessions/session';
import type { AdmissionRules } from './admission';
import { ConnectionPositions } from './sse-positions';
import { SseClient, sseEndpoint, type SseFormat, type SseOptions, type SsePositionSources } from './sse';

export const NOTIFICATION_STREAM_PATH = '/api/notifications/stream';

/** One named SSE event: `event: <name>` and its JSON data. */
export function namedEvent(name: string, data: unknown): Buffer {
  return Buffer.from(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
}

/** An event's block, built once however many of the user's tabs receive it. */
const rendered = new WeakMap<OutboxEvent, Buffer>();

/**
 * The notification stream's wire format (the SSE notifications document): each user event
 * as an event named by its type (`notification`, `notification_read`,
 * `notifications_read_all`, `notification_deleted`) whose data is the event's own data (the
 * notification with `unread_count`, or the state change); `ping` every ping interval; errors
 * as `stream_error` (a named `error` would reach EventSource's `onerror`, which means a
 * broken connection). Other control messages show nothing.
 */
export const NOTIFICATION_FORMAT: SseFormat = {
  event(frames) {
    let block = rendered.get(frames.event);
    if (!block) rendered.set(frames.event, (block = namedEvent(frames.event.type, frames.event.data)));
    return block;
  },
  control(message: ServerMessage) {
    if (message.type !== 'error') return undefined;
    return namedEvent('stream_error', { code: message.code, message: message.message });
  },
  keepAlive: () => namedEvent('ping', { timestamp: new Date().toISOString() }),
};

/** Where the stream starts when it does not resume: the unread count and the stream's seq, in one snapshot. */
interface Snapshot {
  unreadCount: number;
  seq: number;
}

/** The database reads a stream start needs: on the gateway's pool for client work (the Replayer's). */
export type ClientReads = <T>(caller: Caller, work: (db: pg.PoolClient) => Promise<T>) => Promise<T | undefined>;

async function snapshot(reads: ClientReads, caller: Caller, userId: string, stream: string): Promise<Snapshot> {
  const result = await reads(caller, (db) =>
    db.query<{ unread_count: number; seq: number }>(
      `SELECT matchcast_unread_count($1)::int AS unread_count,
              coalesce((SELECT last_seq FROM stream_counter WHERE stream = $2), 0)::int AS seq`,
      [userId, stream],
    ),
  );
  const row = result?.rows[0];
  return row ? { unreadCount: row.unread_count, seq: row.seq } : { unreadCount: 0, seq: 0 };
}

/**
 * GET /api/notifications/stream: the signed-in user's notifications as named SSE events.
 * The token (`Authorization: Bearer`, or `?token=` for EventSource) must name a user; the
 * stream is `user:<sub>` and nothing else. It starts with `connected` ({user_id,
 * connection_id, unread_count, stream_seq}: the count as of that seq, read in one snapshot)
 * and goes on with every user event after that seq, exactly once and in order. Each event's
 * id is a position token, so the browser's own reconnect (Last-Event-ID) resumes exactly.
 */
export function notificationStreamHandler(
  options: Pick<SseOptions, 'maxBufferedBytes'>,
  rules: AdmissionRules,
  sessions: Sessions,
  sources: SsePositionSources,
  reads: ClientReads,
  metrics: GatewayMetrics,
  logger: Logger,
) {
  return sseEndpoint(rules, sessions, metrics, logger, async (req: Request, identity, addressGroup) => {
    const userId = identity.userId;
    if (userId === undefined) throw new ProtocolError('UNAUTHORIZED', 'a user token is required (Authorization: Bearer <token>, or ?token=)');
    // As the API answers it: a subject that names no user's stream (`a:b`, `x/announcements`) was
    // 400 INVALID_CHANNEL or 404 UNKNOWN_CHANNEL about a channel the client never named.
    if (!ID_PATTERN.test(userId)) throw new ProtocolError('UNAUTHORIZED', `token subject must be a user id matching ${ID_PATTERN.source}`);
    const stream = `user:${userId}`;
    const lastEventId = req.get('last-event-id');
    const token = lastEventId ? sources.tokens.decode(lastEventId) : undefined;
    const resume = new Map(token?.positions ?? []);
    // Every position in the token is authorized like a `resume` key: another user's is refused.
    const subscribe: SubscribeRequest = { action: 'subscribe', channels: [stream], resume };
    await sessions.authorize(identity, new Set(), subscribe);
    const at = await snapshot(reads, { group: addressGroup, alive: () => !req.socket.destroyed }, userId, stream);
    if (!resume.has(stream)) resume.set(stream, at.seq);
    return {
      subscribe,
      client: (res, identity) => {
        const positions = new ConnectionPositions(sources.tokens, false);
        positions.set(stream, token?.items.get(stream) ?? sources.tokens.item(stream, resume.get(stream)!));
        return new SseClient(randomUUID(), identity, addressGroup, res, {
          maxBufferedBytes: options.maxBufferedBytes,
          onSlow: () => metrics.slowConsumers.inc(),
          ...sources,
          start: { positions, needsSince: false, unplaced: [] },
          subscribedAtMs: Date.now(),
          resuming: true,
          format: NOTIFICATION_FORMAT,
        });
      },
      greet: (client) =>
        client.announce(namedEvent('connected', { user_id: userId, connection_id: client.id, unread_count: at.unreadCount, stream_seq: at.seq })),
    };
  });
}
