import {
  PRESENCE_GATEWAYS_KEY,
  PRESENCE_MAX_CHANNELS,
  PRESENCE_MAX_CHANNELS_BYTES,
  PRESENCE_MAX_GATEWAY_ENTRIES,
  PRESENCE_MAX_GATEWAYS_BYTES,
  PRESENCE_MAX_VALUE_LENGTH,
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
import { Redis, ReplyError, type ChainableCommander } from 'ioredis';

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
 * decode, or is larger than a gateway ever writes (its size is asked first), is skipped. Redis unreachable → UNAVAILABLE (503): presence has no other copy.
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
      // Sizes first: HGETALL and GET return whatever Redis holds, and one forged hash of millions
      // of fields cost the API seconds and hundreds of MB per request. A gateway writes far less.
      // A hash's bytes are asked only once its field count fits: MEMORY USAGE visits every field.
      const sizes = await run(this.redis.pipeline(), gateways, (p, id) => p.strlen(presenceKeys(id).meta).hlen(presenceKeys(id).channels));
      const metaFits = (i: number) => fits(sizes[2 * i], PRESENCE_MAX_VALUE_LENGTH);
      const bytes = await run(this.redis.pipeline(), gateways, (p, id, i) =>
        p.memory('USAGE', fits(sizes[2 * i + 1], PRESENCE_MAX_CHANNELS) ? presenceKeys(id).channels : NO_KEY, 'SAMPLES', 0),
      );
      const channelsFit = (i: number) => fits(bytes[i], PRESENCE_MAX_CHANNELS_BYTES);
      const replies = await run(this.redis.pipeline(), gateways, (p, id, i) =>
        p.get(metaFits(i) ? presenceKeys(id).meta : NO_KEY).hgetall(channelsFit(i) ? presenceKeys(id).channels : NO_KEY),
      );
      const views: GatewayPresence[] = [];
      const connections = { ws: 0, sse: 0, total: 0 };
      const merged = new Map<string, TransportCounts>();
      gateways.forEach((id, i) => {
        const meta = decodePresenceMeta(replies[2 * i]);
        if (!meta) return; // expired between the reads, too large, or malformed
        views.push(gatewayView(id, meta));
        connections.ws += meta.connections.ws;
        connections.sse += meta.connections.sse;
        const hash = (replies[2 * i + 1] ?? {}) as Record<string, string>;
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
      const users = (id: string) => presenceKeys(id).users;
      const sizes = await run(this.redis.pipeline(), gateways, (p, id) => p.hstrlen(users(id), userId));
      const replies = await run(this.redis.pipeline(), gateways, (p, id, i) =>
        p.hget(fits(sizes[i], PRESENCE_MAX_VALUE_LENGTH) ? users(id) : NO_KEY, userId),
      );
      const all = gateways.flatMap((gateway, i) =>
        decodeUserConnections(replies[i]).map(([connectionId, transport, since, channels]) => ({
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

  /**
   * Gateways whose snapshot has not expired, at most MAX_GATEWAYS. The set is sized first, as the
   * entries are (its members are returned whole, whatever their length): a larger one than the
   * gateways keep is UNAVAILABLE, since which gateways are live cannot be told without it.
   */
  private async liveGateways(): Promise<string[]> {
    const entries = await this.redis.zcard(PRESENCE_GATEWAYS_KEY);
    const bytes = entries <= PRESENCE_MAX_GATEWAY_ENTRIES ? await this.redis.memory('USAGE', PRESENCE_GATEWAYS_KEY, 'SAMPLES', 0) : undefined;
    if (entries > 0 && !fits(bytes, PRESENCE_MAX_GATEWAYS_BYTES)) {
      throw new ProtocolError('UNAVAILABLE', `the gateways set in Redis (${entries} entries${bytes ? `, ${bytes} bytes` : ''}) is larger than gateways write: not read`);
    }
    const ids = await this.redis.zrangebyscore(PRESENCE_GATEWAYS_KEY, Date.now(), '+inf', 'LIMIT', 0, MAX_GATEWAYS);
    return ids.filter(isPresenceGatewayId);
  }

  private async read<T>(work: () => Promise<T>): Promise<T> {
    if (this.redis.status !== 'ready') throw unavailable();
    try {
      return await work();
    } catch (error) {
      throw error instanceof ProtocolError ? error : unavailable(error);
    }
  }
}

/**
 * A key read in place of one too large to read: in the presence prefix (the API's Redis user may
 * read nothing else) and never written, so it answers nil or {} at no cost.
 */
const NO_KEY = 'matchcast:presence:none';

const fits = (size: unknown, max: number): boolean => typeof size === 'number' && size <= max;

/**
 * One pipeline of `queue`'s commands for every gateway; the replies in order. Redis refusing a
 * command (a key of another type: WRONGTYPE) is a malformed entry, answered as absent; any other
 * failure (a timeout) fails the request, 503 — it was answered as a gateway that is not there.
 */
async function run(pipeline: ChainableCommander, gateways: string[], queue: (pipeline: ChainableCommander, id: string, index: number) => void): Promise<unknown[]> {
  gateways.forEach((id, i) => queue(pipeline, id, i));
  const replies = (await pipeline.exec()) ?? [];
  return replies.map(([error, value]) => {
    if (error && !(error instanceof ReplyError)) throw error;
    return error ? undefined : value;
  });
}

function gatewayView(id: string, meta: PresenceMeta): GatewayPresence {
  return { id, at: new Date(meta.at).toISOString(), connections: meta.connections, truncated: meta.channels > PRESENCE_MAX_CHANNELS };
}

const unavailable = (cause?: unknown) => {
  // A Redis user without a command the read needs (an ACL older than this API's) is not a Redis that is away.
  const message = cause instanceof ReplyError ? String((cause as Error).message) : '';
  const refused = message.startsWith('NOPERM') ? message.slice(0, 200) : undefined;
  return new ProtocolError(
    'UNAVAILABLE',
    refused ? `Redis refused a command presence needs (${refused}): give the API's Redis user the ACL of docs/deploy.md` : 'presence is read from Redis, which is not reachable; retry',
    cause === undefined ? undefined : { cause },
  );
};
