import { ProtocolError, parseChannel, type Channel } from '@matchcast/protocol';
import type { Identity } from '@matchcast/auth';

/**
 * The one authorization decision for every channel access — subscribe, `resume` keys, `since`
 * expansion, SSE: parses the name and throws FORBIDDEN_CHANNEL when this identity may not see
 * it. Public match channels are open to all; `user:<id>` only to that user (or an admin).
 * The refusal never reveals anything about the channel (no seq, no existence).
 */
export function authorizeChannel(identity: Identity, name: string): Channel {
  const channel = parseChannel(name);
  if (channel.kind === 'user' && channel.id !== identity.userId && !identity.roles.has('admin')) {
    throw new ProtocolError('FORBIDDEN_CHANNEL', `"${channel.name}" is only for that user's token`);
  }
  return channel;
}

/** The same decision as a predicate, for filtering candidate streams. */
export function mayAccess(identity: Identity, name: string): boolean {
  try {
    authorizeChannel(identity, name);
    return true;
  } catch {
    return false;
  }
}
