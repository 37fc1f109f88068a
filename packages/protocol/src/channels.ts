import { ProtocolError } from './errors';

/**
 * Channels a client may subscribe to (the established set, extended with user notifications):
 *   match:<id>  league:<id>  team:<id>  live:all  all  user:<id>  purchase:<id>
 * and the topic channels `<channel>/<topic>` of match, league, team and all (see TOPICS): the
 * same channel narrowed to one kind of message. A topic channel has its base channel's kind and
 * id, so every decision about the base (authorization, membership) is made the same for it.
 * Streams are the units of ordering (one seq sequence each): match:<id>, league:<id>, team:<id>,
 * all, user:<id>, purchase:<id>. league:<id>, team:<id> and all are both: streams of their own
 * (league_table, announcements) and channels their matches' events reach.
 */
export type ChannelKind = 'match' | 'league' | 'team' | 'live' | 'all' | 'user' | 'purchase';

export interface Channel {
  readonly name: string;
  readonly kind: ChannelKind;
  readonly id?: string;
  /** Set on a topic channel `<base>/<topic>`. */
  readonly topic?: Topic;
}

/**
 * Sub-topics a channel can be narrowed to, as `<channel>/<topic>` (docs/protocol.md, Topics).
 * Which messages belong to which topic is decided in one place: topics.ts.
 */
export const TOPICS = ['results', 'schedule', 'announcements', 'live'] as const;
export type Topic = (typeof TOPICS)[number];
const TOPIC_SET: ReadonlySet<string> = new Set(TOPICS);
/** live:all is already a topic of all; private channels are one stream each, nothing to narrow. */
const KINDS_WITH_TOPICS = new Set<ChannelKind>(['match', 'league', 'team', 'all']);
const TOPIC_PATTERN = /^[a-z]{1,32}$/;
/** The longest base name (kind, colon, 64-character id) and the longest topic channel. */
const MAX_BASE_LENGTH = 80;
const MAX_NAME_LENGTH = MAX_BASE_LENGTH + 1 + 32;

/** Ids are short, URL-safe tokens so that channel names stay bounded and printable. */
export const ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
const KINDS_WITH_ID = new Set<ChannelKind>(['match', 'league', 'team', 'user', 'purchase']);

export function parseChannel(name: unknown): Channel {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH) {
    throw new ProtocolError('INVALID_CHANNEL', `channel must be a non-empty string of at most ${MAX_BASE_LENGTH} characters, plus /<topic>`);
  }
  const slash = name.indexOf('/');
  return slash < 0 ? parseBaseChannel(name) : parseTopicChannel(name, slash);
}

function parseTopicChannel(name: string, slash: number): Channel {
  const base = parseBaseChannel(name.slice(0, slash));
  const topic = name.slice(slash + 1);
  if (!TOPIC_PATTERN.test(topic)) {
    throw new ProtocolError('INVALID_CHANNEL', `channel "${name}" needs a topic after "/": one of ${TOPICS.join(', ')}`);
  }
  if (!KINDS_WITH_TOPICS.has(base.kind)) {
    throw new ProtocolError('UNKNOWN_CHANNEL', `"${base.name}" has no topics (only match, league, team and all channels do)`);
  }
  if (!TOPIC_SET.has(topic)) {
    throw new ProtocolError('UNKNOWN_CHANNEL', `unknown topic "${topic}" in "${name}": one of ${TOPICS.join(', ')}`);
  }
  return { ...base, name, topic: topic as Topic };
}

function parseBaseChannel(name: string): Channel {
  if (name.length === 0 || name.length > MAX_BASE_LENGTH) {
    throw new ProtocolError('INVALID_CHANNEL', `channel must be a non-empty string of at most ${MAX_BASE_LENGTH} characters, plus /<topic>`);
  }
  if (name === 'all') return { name, kind: 'all' };
  if (name === 'live:all') return { name, kind: 'live' };
  const colon = name.indexOf(':');
  const kind = (colon > 0 ? name.slice(0, colon) : name) as ChannelKind;
  if (name.startsWith(CANARY_STREAM_PREFIX)) {
    throw new ProtocolError('UNKNOWN_CHANNEL', `"${name}" is reserved: canary:<id> streams are the gateways' delivery canary, never delivered to clients`);
  }
  if (!KINDS_WITH_ID.has(kind)) {
    throw new ProtocolError('UNKNOWN_CHANNEL', `unknown channel "${name}"`);
  }
  const id = name.slice(colon + 1);
  if (colon < 0 || !ID_PATTERN.test(id)) {
    throw new ProtocolError('INVALID_CHANNEL', `channel "${name}" needs an id matching ${ID_PATTERN.source}`);
  }
  return { name, kind, id };
}

/** A stream name is a channel name of kind match, league, team, all, user or purchase (never live:all nor a topic channel). */
export function isStreamName(name: string): boolean {
  try {
    const channel = parseChannel(name);
    if (channel.topic) return false;
    return channel.kind !== 'live';
  } catch {
    return false;
  }
}

/**
 * Private streams (user:<id>, purchase:<id>): one per user or purchase, each its own and only
 * channel, visible to its owner and admins. There are many, so a gateway follows only those
 * its own clients subscribe to.
 */
export function isPrivateStreamKind(kind: ChannelKind): boolean {
  return kind === 'user' || kind === 'purchase';
}

/** Whether a stream name is a private stream's (by its prefix: cheap enough for every event). */
export function isPrivateStream(name: string): boolean {
  return name.startsWith('user:') || name.startsWith('purchase:');
}

/** The channel a topic channel narrows (`league:l1/results` → `league:l1`); any other name itself. Cheap: by the slash. */
export function baseChannel(name: string): string {
  const slash = name.indexOf('/');
  return slash < 0 ? name : name.slice(0, slash);
}

/**
 * Public streams whose own events go to their own channel only: league:<id> (league_table,
 * announcements), team:<id> and all (announcements). By prefix: cheap enough for every event;
 * for stream names (a topic channel is not one).
 */
export function isOwnChannelStream(name: string): boolean {
  return name === 'all' || name.startsWith('league:') || name.startsWith('team:');
}

/**
 * The delivery canary's streams, `canary:<gateway id>` (docs/operations.md, "Delivery canary"):
 * each gateway commits a tiny event to its own one every few seconds and times it back through
 * the real path. Internal: no client may subscribe (parseChannel refuses the name), routing
 * sends them nowhere, and a gateway's sequencer never follows them.
 */
export const CANARY_STREAM_PREFIX = 'canary:';

/** The canary stream of one gateway; its id must match ID_PATTERN. */
export function canaryStream(gatewayId: string): string {
  if (!ID_PATTERN.test(gatewayId)) throw new ProtocolError('INVALID_CHANNEL', `gateway id "${gatewayId}" must match ${ID_PATTERN.source}`);
  return CANARY_STREAM_PREFIX + gatewayId;
}

/** Whether a name is a canary stream's (by its prefix: cheap enough for every event). */
export function isCanaryStream(name: string): boolean {
  return name.startsWith(CANARY_STREAM_PREFIX);
}

/** A well-formed canary stream name (the bus decoder's check). */
export function isCanaryStreamName(name: string): boolean {
  return isCanaryStream(name) && ID_PATTERN.test(name.slice(CANARY_STREAM_PREFIX.length));
}
