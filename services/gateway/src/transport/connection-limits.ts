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
 * alike; an IPv6 address counts as its /64 (addressGroup). State exists only for addresses with
 * open connections or a recently used rate bucket, so an address that goes away leaves nothing behind.
 */
export class ConnectionLimits {
  private readonly open = new Map<string, number>();
  private readonly rates = new Map<string, TokenBucket>();
  private lastSweep = Date.now();

  constructor(private readonly options: ConnectionLimitOptions) {}

  /** Counts a new connection from an address group (clientGroup), or throws; the returned release is safe to call twice. */
  admit(address: string): () => void {
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
