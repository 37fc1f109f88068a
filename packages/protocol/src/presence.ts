import { ID_PATTERN, parseChannel } from './channels';

/**
 * Presence: who is listening, cluster-wide (docs/operations.md, "Who is listening"). Every gateway
 * writes a compact snapshot of its connections to Redis every few seconds, with a TTL; the API
 * reads and merges the live ones. The one format, written by the gateway and decoded by the API
 * (Redis content is untrusted: anything malformed is skipped, never thrown at a request).
 *
 *   matchcast:presence:gateways            ZSET  gateway id → expiry (unix ms) of its snapshot
 *   matchcast:presence:<gw>:meta           STRING JSON PresenceMeta
 *   matchcast:presence:<gw>:channels       HASH  channel → JSON [ws, sse] subscriber counts
 *   matchcast:presence:<gw>:users          HASH  user id → JSON UserConnection[] (newest first)
 */
export const PRESENCE_GATEWAYS_KEY = 'matchcast:presence:gateways';

export function presenceKeys(gatewayId: string): { meta: string; channels: string; users: string } {
  const base = `matchcast:presence:${gatewayId}`;
  return { meta: `${base}:meta`, channels: `${base}:channels`, users: `${base}:users` };
}

export const PRESENCE_TRANSPORTS = ['ws', 'sse'] as const;
export type PresenceTransport = (typeof PRESENCE_TRANSPORTS)[number];
export type TransportCounts = Record<PresenceTransport, number>;

/** Per gateway snapshot: the channels with the most subscribers, at most this many. */
export const PRESENCE_MAX_CHANNELS = 5000;
/** Per user and gateway snapshot: the newest connections, at most this many. */
export const PRESENCE_MAX_USER_CONNECTIONS = 20;

export interface PresenceMeta {
  /** When the snapshot was taken (unix ms). */
  at: number;
  connections: TransportCounts;
  /** Distinct channels on the gateway; more than PRESENCE_MAX_CHANNELS means the hash holds the top ones only. */
  channels: number;
}

/** Longest value of a snapshot (meta, or a user's connections) that is read at all: far above what a gateway writes. */
export const PRESENCE_MAX_VALUE_LENGTH = 65_536;
/**
 * Most bytes a channels hash may hold in Redis (MEMORY USAGE) to be read at all: a full one
 * (PRESENCE_MAX_CHANNELS of the longest channel names and counts) takes about 1.1 MB. A field
 * count alone bounds nothing: five forged fields of 40 MB each made one admin request cost 480 MB.
 */
export const PRESENCE_MAX_CHANNELS_BYTES = 4 * 1024 * 1024;
/**
 * Most entries, and bytes in Redis, of the gateways set that is read at all. Gateways drop
 * expired entries at every write, so it holds about the live ones (1000 of the longest ids take
 * about 170 kB); a member may otherwise be any size: four of 60 MB cost 0.7 s and 200 MB a request.
 */
export const PRESENCE_MAX_GATEWAY_ENTRIES = 1000;
export const PRESENCE_MAX_GATEWAYS_BYTES = 1024 * 1024;

/** One open connection of a user: [connection id, transport, connected since (unix ms), channels subscribed]. */
export type UserConnection = [connectionId: string, transport: PresenceTransport, since: number, channels: number];

const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
/** The latest time a Date holds (ms): a count past it made `toISOString()` throw, and one forged entry turned the whole view into 503. */
const MAX_DATE_MS = 8.64e15;
const isTime = (value: unknown): value is number => isCount(value) && value <= MAX_DATE_MS;
const CONNECTION_ID = /^[A-Za-z0-9-]{1,64}$/;

function parse(text: unknown): unknown {
  if (typeof text !== 'string' || text.length > PRESENCE_MAX_VALUE_LENGTH) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function decodeCounts(value: unknown): TransportCounts | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { ws, sse } = value as Record<string, unknown>;
  return isCount(ws) && isCount(sse) ? { ws, sse } : undefined;
}

export function decodePresenceMeta(text: unknown): PresenceMeta | undefined {
  const value = parse(text) as Record<string, unknown> | undefined;
  if (typeof value !== 'object' || value === null || !isTime(value.at) || !isCount(value.channels)) return undefined;
  const connections = decodeCounts(value.connections);
  return connections ? { at: value.at, connections, channels: value.channels } : undefined;
}

/** A channel field of a snapshot and its counts, or undefined when either is malformed. */
export function decodeChannelCounts(channel: string, text: unknown): TransportCounts | undefined {
  try {
    parseChannel(channel);
  } catch {
    return undefined;
  }
  const value = parse(text);
  if (!Array.isArray(value) || value.length !== 2 || !isCount(value[0]) || !isCount(value[1])) return undefined;
  return { ws: value[0], sse: value[1] };
}

/** A user's connections in one snapshot; malformed entries are left out. */
export function decodeUserConnections(text: unknown): UserConnection[] {
  const value = parse(text);
  if (!Array.isArray(value)) return [];
  return value.slice(0, PRESENCE_MAX_USER_CONNECTIONS).filter(
    (entry): entry is UserConnection =>
      Array.isArray(entry) &&
      entry.length === 4 &&
      typeof entry[0] === 'string' &&
      CONNECTION_ID.test(entry[0]) &&
      PRESENCE_TRANSPORTS.includes(entry[1]) &&
      isTime(entry[2]) &&
      isCount(entry[3]),
  );
}

/** Whether a gateway id from the gateways set can name keys (the id pattern). */
export function isPresenceGatewayId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}
