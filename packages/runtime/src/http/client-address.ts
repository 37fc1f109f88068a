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
