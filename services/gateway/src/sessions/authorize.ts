import { ProtocolError, parseChannel, type Channel } from '@matchcast/protocol';
import type { Identity } from '@matchcast/auth';
import { ALL_PUBLIC, type LeagueVisibility } from './league-access';

/** Purchase id → its buyer, for the purchases a decision is about (PurchaseOwners looks them up). */
export type KnownOwners = ReadonlyMap<string, string>;
const NO_OWNERS: KnownOwners = new Map();

/**
 * The one authorization decision for every channel access — subscribe, `resume` keys, `since`
 * expansion, SSE: parses the name and throws FORBIDDEN_CHANNEL when this identity may not see
 * it. Public match channels are open to all; `user:<id>` only to that user, `purchase:<id>`
 * only to its buyer (by `owners`, looked up before the decision), and both to admins. A private
 * league's league, team and match channels (and their topics) only to its members and admins
 * (by `leagues`, loaded before the decision; a team of a private league is private too).
 * The refusal never reveals anything about the channel (no seq, no existence): a purchase that
 * does not exist is refused exactly like another user's.
 */
export function authorizeChannel(identity: Identity, name: string, owners: KnownOwners = NO_OWNERS, leagues: LeagueVisibility = ALL_PUBLIC): Channel {
  const channel = parseChannel(name);
  if (identity.roles.has('admin')) return channel;
  if (channel.kind === 'user' && channel.id !== identity.userId) {
    throw new ProtocolError('FORBIDDEN_CHANNEL', `"${channel.name}" is only for that user's token`);
  }
  if (channel.kind === 'purchase' && (identity.userId === undefined || owners.get(channel.id!) !== identity.userId)) {
    throw new ProtocolError('FORBIDDEN_CHANNEL', `"${channel.name}" is only for its purchaser's token`);
  }
  if (channel.kind === 'league' || channel.kind === 'team' || channel.kind === 'match') {
    const league = leagues.stateOf(channel);
    if (league?.private && (identity.userId === undefined || !league.members.has(identity.userId))) {
      // No `channel` here: the refusal is the same as any other; a withdrawn grant (session.ts) names it.
      throw new ProtocolError('FORBIDDEN_CHANNEL', `"${channel.name}" is only for the members of a private competition`);
    }
  }
  return channel;
}

/** The same decision as a predicate, for filtering candidate streams. */
export function mayAccess(identity: Identity, name: string, owners?: KnownOwners, leagues?: LeagueVisibility): boolean {
  try {
    authorizeChannel(identity, name, owners, leagues);
    return true;
  } catch {
    return false;
  }
}

/**
 * The purchase ids whose buyers the decision on these names needs: none for an admin (who may
 * see every purchase) or a token without a user (who may see none).
 */
export function ownersNeeded(identity: Identity, names: Iterable<string>): string[] {
  if (identity.roles.has('admin') || identity.userId === undefined) return [];
  const ids: string[] = [];
  for (const name of names) {
    if (!name.startsWith('purchase:')) continue;
    try {
      const channel = parseChannel(name);
      if (channel.kind === 'purchase') ids.push(channel.id!);
    } catch {
      // A malformed name: the decision refuses it with its own code.
    }
  }
  return ids;
}
