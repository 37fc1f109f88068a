import {
  PRESENCE_MAX_CHANNELS,
  PRESENCE_MAX_USER_CONNECTIONS,
  type PresenceMeta,
  type PresenceTransport,
  type TransportCounts,
  type UserConnection,
} from '@matchcast/protocol';

/** What a snapshot needs of a connected client. */
export interface PresenceClient {
  readonly id: string;
  readonly transport: PresenceTransport;
  readonly connectedAt: number;
  readonly channels: ReadonlySet<string>;
  readonly identity: { readonly userId?: string | undefined };
}

/** One gateway's presence as written to Redis (protocol/presence.ts has the format). */
export interface PresenceSnapshot {
  meta: PresenceMeta;
  /** channel → JSON [ws, sse]: the PRESENCE_MAX_CHANNELS channels with the most subscribers. */
  channels: Map<string, string>;
  /** user id → JSON UserConnection[], newest first, at most PRESENCE_MAX_USER_CONNECTIONS. */
  users: Map<string, string>;
}

/**
 * Counts a gateway's clients by transport, channel and user, in one pass over its clients
 * (O(subscriptions), every few seconds). Bounded whatever the load: the top channels only, and
 * a few connections per user.
 */
export function takeSnapshot(clients: Iterable<PresenceClient>, now = Date.now()): PresenceSnapshot {
  const connections: TransportCounts = { ws: 0, sse: 0 };
  const byChannel = new Map<string, TransportCounts>();
  const byUser = new Map<string, UserConnection[]>();
  for (const client of clients) {
    connections[client.transport]++;
    for (const channel of client.channels) {
      let counts = byChannel.get(channel);
      if (!counts) byChannel.set(channel, (counts = { ws: 0, sse: 0 }));
      counts[client.transport]++;
    }
    const userId = client.identity.userId;
    if (userId === undefined) continue;
    let list = byUser.get(userId);
    if (!list) byUser.set(userId, (list = []));
    list.push([client.id, client.transport, client.connectedAt, client.channels.size]);
  }
  const top = [...byChannel].sort(([, a], [, b]) => b.ws + b.sse - (a.ws + a.sse)).slice(0, PRESENCE_MAX_CHANNELS);
  const channels = new Map(top.map(([channel, counts]) => [channel, JSON.stringify([counts.ws, counts.sse])]));
  const users = new Map<string, string>();
  for (const [userId, list] of byUser) {
    users.set(userId, JSON.stringify(list.sort((a, b) => b[2] - a[2]).slice(0, PRESENCE_MAX_USER_CONNECTIONS)));
  }
  return { meta: { at: now, connections, channels: byChannel.size }, channels, users };
}
