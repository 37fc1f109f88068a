import {
  PRESENCE_GATEWAYS_KEY,
  PRESENCE_MAX_CHANNELS,
  ProtocolError,
  decodeChannelCounts,
  decodePresenceMeta,
  decodeUserConnections,
  isPresenceGatewayId,
  presenceKeys,
  type PresenceMeta,
  type PresenceTransport,
  type TransportCounts,
} from '@matchcast/protocol';
import { Redis } from 'ioredis';

/** Gateways read per request: far more than a cluster runs; a bound on the work whatever Redis holds. */
export const MAX_GATEWAYS = 200;

export interface GatewayPresence {
  id: string;
  at: string;
  connections: TransportCounts;
  /** More channels on the gateway than its snapshot holds (its top channels only). */
  truncated: boolean;
}

export interface ChannelPresence {
  channel: string;
  subscribers: number;
  ws: number;
  sse: number;
}

export interface ChannelsView {
  gateways: GatewayPresence[];
  connections: TransportCounts & { total: number };
  /** Distinct channels merged from the snapshots. */
  channel_count: number;
  channels: ChannelPresence[];
  /** More channels than returned (the rest have fewer subscribers). */
  truncated: boolean;
}

export interface ConnectionPresence {
  gateway: string;
  connection_id: string;
  transport: PresenceTransport;
  since: string;
  channels: number;
}

/**
 * Reads the gateways' presence snapshots (protocol/presence.ts) from Redis and merges them.
 * Only live snapshots count (listed in the gateways set with an expiry ahead); what does not
 * decode is skipped. Redis unreachable → UNAVAILABLE (503): presence has no other copy.
 */
export class PresenceStore {
  private readonly redis: Redis;

  constructor(url: string, commandTimeoutMs: number) {
    this.redis = new Redis(url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: commandTimeoutMs,
      connectTimeout: commandTimeoutMs * 2,
      connectionName: 'matchcast-api-presence',
      retryStrategy: (times) => Math.min(250 * times, 2000),
    });
    this.redis.on('error', () => undefined); // a request that needs Redis gets UNAVAILABLE
  }

  start(): void {
    this.redis.connect().catch(() => undefined);
  }

  async channels(limit: number, matches: (channel: string) => boolean): Promise<ChannelsView> {
    return this.read(async () => {
      const gateways = await this.liveGateways();
      const pipeline = this.redis.pipeline();
      for (const id of gateways) pipeline.get(presenceKeys(id).meta).hgetall(presenceKeys(id).channels);
      const replies = (await pipeline.exec()) ?? [];
      const views: GatewayPresence[] = [];
      const connections = { ws: 0, sse: 0, total: 0 };
      const merged = new Map<string, TransportCounts>();
      gateways.forEach((id, i) => {
        const meta = decodePresenceMeta(replies[2 * i]?.[1]);
        if (!meta) return; // expired between the two reads, or malformed
        views.push(gatewayView(id, meta));
        connections.ws += meta.connections.ws;
        connections.sse += meta.connections.sse;
        const hash = (replies[2 * i + 1]?.[1] ?? {}) as Record<string, string>;
        for (const [channel, text] of Object.entries(hash)) {
          if (!matches(channel)) continue;
          const counts = decodeChannelCounts(channel, text);
          if (!counts) continue;
          const sum = merged.get(channel) ?? { ws: 0, sse: 0 };
          sum.ws += counts.ws;
          sum.sse += counts.sse;
          merged.set(channel, sum);
        }
      });
      connections.total = connections.ws + connections.sse;
      const channels = [...merged]
        .map(([channel, counts]) => ({ channel, subscribers: counts.ws + counts.sse, ws: counts.ws, sse: counts.sse }))
        .sort((a, b) => b.subscribers - a.subscribers || (a.channel < b.channel ? -1 : 1));
      return {
        gateways: views.sort((a, b) => (a.id < b.id ? -1 : 1)),
        connections,
        channel_count: channels.length,
        channels: channels.slice(0, limit),
        truncated: channels.length > limit,
      };
    });
  }

  /** A user's open connections on every gateway, newest first, at most `limit`. */
  async userConnections(userId: string, limit: number): Promise<{ connections: ConnectionPresence[]; truncated: boolean }> {
    return this.read(async () => {
      const gateways = await this.liveGateways();
      const pipeline = this.redis.pipeline();
      for (const id of gateways) pipeline.hget(presenceKeys(id).users, userId);
      const replies = (await pipeline.exec()) ?? [];
      const all = gateways.flatMap((gateway, i) =>
        decodeUserConnections(replies[i]?.[1]).map(([connectionId, transport, since, channels]) => ({
          gateway,
          connection_id: connectionId,
          transport,
          since: new Date(since).toISOString(),
          channels,
        })),
      );
      all.sort((a, b) => (a.since < b.since ? 1 : a.since > b.since ? -1 : 0));
      return { connections: all.slice(0, limit), truncated: all.length > limit };
    });
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }

  /** Gateways whose snapshot has not expired, at most MAX_GATEWAYS. */
  private async liveGateways(): Promise<string[]> {
    const ids = await this.redis.zrangebyscore(PRESENCE_GATEWAYS_KEY, Date.now(), '+inf', 'LIMIT', 0, MAX_GATEWAYS);
    return ids.filter(isPresenceGatewayId);
  }

  private async read<T>(work: () => Promise<T>): Promise<T> {
    if (this.redis.status !== 'ready') throw unavailable();
    try {
      return await work();
    } catch (error) {
      throw unavailable(error);
    }
  }
}

function gatewayView(id: string, meta: PresenceMeta): GatewayPresence {
  return { id, at: new Date(meta.at).toISOString(), connections: meta.connections, truncated: meta.channels > PRESENCE_MAX_CHANNELS };
}

const unavailable = (cause?: unknown) =>
  new ProtocolError('UNAVAILABLE', 'presence is read from Redis, which is not reachable; retry', cause === undefined ? undefined : { cause });
