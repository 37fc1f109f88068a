import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/**
 * The address a connection counts against for per-IP limits. Behind `trustedHops` proxies the
 * client is the X-Forwarded-For entry that the outermost trusted proxy appended; entries left
 * of it are whatever the client claimed and are never trusted.
 */
export function clientAddress(req: IncomingMessage, trustedHops: number): string {
  const direct = normalize(req.socket.remoteAddress ?? 'unknown');
  if (trustedHops === 0) return direct;
  const header = req.headers['x-forwarded-for'];
  const entries = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  // Fewer entries than trusted proxies: the request did not come through them all, so none
  // of its X-Forwarded-For can be trusted.
  const claimed = entries.length >= trustedHops ? entries[entries.length - trustedHops] : undefined;
  return claimed !== undefined && isIP(claimed) ? normalize(claimed) : direct;
}

const normalize = (address: string): string => (address.startsWith('::ffff:') ? address.slice(7) : address);

/**
 * The addresses one client holds, as one key for per-client limits: an IPv4 address itself, an
 * IPv6 address's /64 (`2001:db8:0:1::/64`), which is what one subscriber or host is given: keyed by
 * the whole address, one host with a /64 was 2^64 clients, each with limits of its own.
 */
export function addressGroup(address: string): string {
  if (isIP(address) !== 6) return address;
  const bare = address.split('%')[0]!;
  const [head = '', tail] = bare.split('::');
  const groupsIn = (part: string) => (part === '' ? [] : part.split(':'));
  const left = groupsIn(head);
  // Only the first four groups matter; an embedded IPv4 tail (two groups) sits in the last two.
  const right = tail === undefined ? [] : groupsIn(tail).flatMap((group) => (group.includes('.') ? ['0', '0'] : [group]));
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((group) => parseInt(group, 16).toString(16)).join(':')}::/64`;
}
