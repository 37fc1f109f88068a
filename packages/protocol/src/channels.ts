import { ProtocolError } from './errors';

/**
 * Channels a client may subscribe to (the established set, extended with user notifications):
 *   match:<id>  league:<id>  team:<id>  live:all  all  user:<id>  purchase:<id>
 * Streams are the units of ordering (one seq sequence each): match:<id>, league:<id>, user:<id>,
 * purchase:<id>. league:<id> is both: its own stream (league_table) and the channel its matches'
 * events reach.
 */
export type ChannelKind = 'match' | 'league' | 'team' | 'live' | 'all' | 'user' | 'purchase';

export interface Channel {
  readonly name: string;
  readonly kind: ChannelKind;
  readonly id?: string;
}

/** Ids are short, URL-safe tokens so that channel names stay bounded and printable. */
export const ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
const KINDS_WITH_ID = new Set<ChannelKind>(['match', 'league', 'team', 'user', 'purchase']);

export function parseChannel(name: unknown): Channel {
  if (typeof name !== 'string' || name.length === 0 || name.length > 80) {
    throw new ProtocolError('INVALID_CHANNEL', 'channel must be a non-empty string of at most 80 characters');
  }
  if (name === 'all') return { name, kind: 'all' };
  if (name === 'live:all') return { name, kind: 'live' };
  const colon = name.indexOf(':');
  const kind = (colon > 0 ? name.slice(0, colon) : name) as ChannelKind;
  if (!KINDS_WITH_ID.has(kind)) {
    throw new ProtocolError('UNKNOWN_CHANNEL', `unknown channel "${name}"`);
  }
  const id = name.slice(colon + 1);
  if (colon < 0 || !ID_PATTERN.test(id)) {
    throw new ProtocolError('INVALID_CHANNEL', `channel "${name}" needs an id matching ${ID_PATTERN.source}`);
  }
  return { name, kind, id };
}

/** A stream name is a channel name of kind match, league, user or purchase. */
export function isStreamName(name: string): boolean {
  try {
    const channel = parseChannel(name);
    return channel.kind === 'match' || channel.kind === 'league' || isPrivateStreamKind(channel.kind);
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
