import { isIPv6 } from 'node:net';
import { ProtocolError } from '@matchcast/protocol';
import { TokenBucket } from '@matchcast/runtime';

export interface ConnectionLimitOptions {
  /** Open connections per address; 0 = no limit. */
  maxPerAddress: number;
  /** New connections per second per address (burst twice that); 0 = no limit. */
  perAddressPerSecond: number;
}

const SWEEP_INTERVAL_MS = 10_000;

/**
 * Per-address caps on open connections and on the rate of new ones, for WebSocket and SSE
 * alike; an IPv6 address counts as its /64 (limitedAs). State exists only for addresses with
 * open connections or a recently used rate bucket, so an address that goes away leaves nothing behind.
 */
export class ConnectionLimits {
  private readonly open = new Map<string, number>();
  private readonly rates = new Map<string, TokenBucket>();
  private lastSweep = Date.now();

  constructor(private readonly options: ConnectionLimitOptions) {}

  /** Counts a new connection from `client` (its address), or throws; the returned release is safe to call twice. */
  admit(client: string): () => void {
    const address = limitedAs(client);
    const now = Date.now();
    if (now - this.lastSweep > SWEEP_INTERVAL_MS) this.sweep(now);
    const { maxPerAddress, perAddressPerSecond } = this.options;
    const count = this.open.get(address) ?? 0;
    if (maxPerAddress > 0 && count >= maxPerAddress) {
      throw new ProtocolError('TOO_MANY_CONNECTIONS', `at most ${maxPerAddress} connections per address`);
    }
    if (perAddressPerSecond > 0) {
      let bucket = this.rates.get(address);
      if (!bucket) this.rates.set(address, (bucket = new TokenBucket(perAddressPerSecond)));
      if (!bucket.take(now)) throw new ProtocolError('RATE_LIMITED', 'too many new connections from your address; retry later');
    }
    this.open.set(address, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(address) ?? 1) - 1;
      if (left > 0) this.open.set(address, left);
      else this.open.delete(address);
    };
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [address, bucket] of this.rates) if (bucket.full(now)) this.rates.delete(address);
  }
}

/**
 * What an address counts as: an IPv6 address by its /64, the least a host is handed (a subscriber
 * line, a VM), so that one host cannot take every connection with addresses of its own prefix,
 * each a new address to these caps; an IPv4 address, or an IPv6 one carrying an IPv4 address
 * (64:ff9b::1.2.3.4: a translator's, one per IPv4 host), as itself.
 */
export function limitedAs(address: string): string {
  if (!isIPv6(address) || address.includes('.')) return address;
  const plain = address.split('%')[0]!; // a zone id (fe80::1%eth0) is no part of the address
  const groups = (part: string | undefined): string[] => (part ? part.split(':') : []);
  const [left, right] = plain.split('::');
  const head = groups(left);
  const tail = groups(right);
  const zeros = right === undefined ? [] : Array<string>(8 - head.length - tail.length).fill('0');
  const prefix = [...head, ...zeros, ...tail].slice(0, 4).map((group) => parseInt(group, 16).toString(16));
  return `${prefix.join(':')}::/64`;
}
