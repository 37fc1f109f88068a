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

/** The address group (addressGroup) of the request's client (clientAddress): the key of per-client limits and turns. */
export function clientGroup(req: IncomingMessage, trustedHops: number): string {
  return addressGroup(clientAddress(req, trustedHops));
}

const normalize = (address: string): string => (address.startsWith('::ffff:') ? address.slice(7) : address);

/**
 * The addresses one client holds, as one key for per-client limits: an IPv4 address itself, an
 * IPv6 address's /64 (`2001:db8:0:1::/64`), which is what one subscriber or host is given: keyed by
 * the whole address, one host with a /64 was 2^64 clients, each with limits of its own. An IPv4
 * host translated into IPv6 (64:ff9b::/96, as an IPv6-only edge sees IPv4 clients) stays itself:
 * its /64 would be every IPv4 client at once.
 */
export function addressGroup(raw: string): string {
  // An IPv4 client of a dual-stack socket (::ffff:a.b.c.d) is that IPv4 address: its /64 would be every IPv4 client at once.
  const address = normalize(raw);
  if (isIP(address) !== 6) return address;
  const groups = ipv6Groups(address.split('%')[0]!); // a zone id (fe80::1%eth0) is no part of the address
  if (groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((group) => group === 0)) return address;
  return `${groups.slice(0, 4).map((group) => group.toString(16)).join(':')}::/64`;
}

/** A valid IPv6 address's eight groups, with `::` expanded and an embedded IPv4 tail as two groups. */
function ipv6Groups(address: string): number[] {
  const [head = '', tail] = address.split('::');
  const parse = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((group) => {
          if (!group.includes('.')) return [parseInt(group, 16)];
          const [a, b, c, d] = group.split('.').map(Number) as [number, number, number, number];
          return [(a << 8) | b, (c << 8) | d];
        });
  const left = parse(head);
  if (tail === undefined) return left;
  const right = parse(tail);
  return [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
}
