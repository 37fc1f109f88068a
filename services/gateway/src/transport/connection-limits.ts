import { ProtocolError } from '@matchcast/protocol';
import { TokenBucket } from '@matchcast/runtime';
import type { ClusterUserCount } from './cluster-user-count';
import type { UserCap } from './user-slot';

export interface ConnectionLimitOptions {
  /** Open connections per address; 0 = no limit. */
  maxPerAddress: number;
  /** New connections per second per address (burst twice that); 0 = no limit. */
  perAddressPerSecond: number;
  /** Open connections per user (a token's `sub`, from any number of addresses); 0 = no limit. */
  maxPerUser: number;
}

const SWEEP_INTERVAL_MS = 10_000;

/** Open connections by key, at most `max` each (0 = no limit); a key with none open leaves nothing behind. */
class OpenCounts {
  private readonly open = new Map<string, number>();

  constructor(
    private readonly max: number,
    private readonly refusal: () => ProtocolError,
  ) {}

  /** Throws the refusal when the key is at its cap. */
  check(key: string): void {
    if (this.max > 0 && (this.open.get(key) ?? 0) >= this.max) throw this.refusal();
  }

  /** Counts one more for the key; the returned release is safe to call twice. */
  take(key: string): () => void {
    this.open.set(key, (this.open.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(key) ?? 1) - 1;
      if (left > 0) this.open.set(key, left);
      else this.open.delete(key);
    };
  }
}

/**
 * Per-address caps on open connections and on the rate of new ones, for WebSocket and SSE
 * alike; an IPv6 address counts as its /64 (addressGroup). State exists only for addresses with
 * open connections or a recently used rate bucket, so an address that goes away leaves nothing behind.
 * And a per-user cap, counted once the token names the user: one token used from many addresses
 * passed every per-address cap and could take the whole process (SERVER_FULL for everyone else),
 * each SSE notification stream a database read at its start. With a ClusterUserCount the per-user
 * cap holds across every gateway; this process's count is always kept too, and decides alone
 * while Redis does not answer.
 */
export class ConnectionLimits implements UserCap {
  private readonly addresses: OpenCounts;
  private readonly users: OpenCounts;
  private readonly rates = new Map<string, TokenBucket>();
  private lastSweep = Date.now();

  private readonly userRefusal: () => ProtocolError;

  constructor(
    private readonly options: ConnectionLimitOptions,
    /** Counts users' connections across the cluster (Redis); undefined: per process only. */
    private readonly cluster?: Pick<ClusterUserCount, 'take'>,
  ) {
    const { maxPerAddress, maxPerUser } = options;
    this.addresses = new OpenCounts(maxPerAddress, () => new ProtocolError('TOO_MANY_CONNECTIONS', `at most ${maxPerAddress} connections per address`));
    this.userRefusal = () => new ProtocolError('TOO_MANY_CONNECTIONS', `at most ${maxPerUser} connections per user; close another tab or device first`);
    this.users = new OpenCounts(maxPerUser, this.userRefusal);
  }

  /** Counts a new connection from an address group (clientGroup), or throws; the returned release is safe to call twice. */
  admit(address: string): () => void {
    const now = Date.now();
    if (now - this.lastSweep > SWEEP_INTERVAL_MS) this.sweep(now);
    this.addresses.check(address);
    const { perAddressPerSecond } = this.options;
    if (perAddressPerSecond > 0) {
      let bucket = this.rates.get(address);
      if (!bucket) this.rates.set(address, (bucket = new TokenBucket(perAddressPerSecond)));
      if (!bucket.take(now)) throw new ProtocolError('RATE_LIMITED', 'too many new connections from your address; retry later');
    }
    return this.addresses.take(address);
  }

  /**
   * Counts one more connection of the user, here and across the cluster, or throws
   * TOO_MANY_CONNECTIONS; the release is safe to call twice. This process's place is taken
   * before Redis answers, so admissions waiting on Redis together cannot pass the cap here.
   */
  async takeUser(userId: string): Promise<() => void> {
    this.users.check(userId);
    const releaseHere = this.users.take(userId);
    if (!this.cluster || this.options.maxPerUser === 0) return releaseHere;
    const releaseThere = await this.cluster.take(userId).catch((error: unknown) => {
      releaseHere();
      throw error;
    });
    if (releaseThere === undefined) {
      releaseHere();
      throw this.userRefusal();
    }
    return () => {
      releaseHere();
      releaseThere();
    };
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [address, bucket] of this.rates) if (bucket.full(now)) this.rates.delete(address);
  }
}
