import { randomBytes } from 'node:crypto';
import { throttledWarn, type Logger } from '@matchcast/runtime';
import { Redis } from 'ioredis';
import type { Config } from '../config';

/**
 * One sorted set per user: member = one open connection (`<gateway>:<process>:<n>`), score = when
 * its lease ends (Redis clock, unix ms). The Redis user of the gateway may touch these keys (ACL).
 */
export const USER_CONNECTIONS_KEY_PREFIX = 'matchcast:user-connections:';

export function userConnectionsKey(userId: string): string {
  return USER_CONNECTIONS_KEY_PREFIX + userId;
}

/** Lease ends are read from Redis' own clock (TIME), so gateways with skewed clocks agree. */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;
/** The key lives as long as its longest lease, whichever gateway's USER_CAP_LEASE_MS set it. */
const keepKey = (key: string) => `if redis.call('PTTL', ${key}) < lease then redis.call('PEXPIRE', ${key}, lease) end`;

/**
 * Check and take in one step, for a batch of connections (those of one turn): per connection,
 * expired leases dropped, 0 at the cap, else its member added and 1. KEYS: each connection's
 * user key (repeats allowed); ARGV: max, lease ms, then each connection's member.
 */
const TAKE = `${NOW}
local max = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
local swept = {}
local taken = {}
for i, key in ipairs(KEYS) do
  if not swept[key] then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    swept[key] = true
  end
  if redis.call('ZCARD', key) >= max then
    taken[i] = 0
  else
    redis.call('ZADD', key, now + lease, ARGV[i + 2])
    ${keepKey('key')}
    taken[i] = 1
  end
end
return taken`;

/** Connections per TAKE call: a storm's turn is a few calls, none holding Redis long. */
const TAKE_BATCH = 200;

/** Renews (or re-registers, after Redis lost them) open connections, whatever the cap: they are open. ARGV: lease ms, members. */
const RENEW = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local lease = tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], now + lease, ARGV[i]) end
${keepKey('KEYS[1]')}
return #ARGV - 1`;

const TIMED_OUT = Symbol('timed out');

/** The work's result, or TIMED_OUT after `ms` (the work goes on). */
async function within<T>(work: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work, new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(resolve, ms, TIMED_OUT)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Members per RENEW call: a user with thousands of connections on one gateway is renewed in a few calls. */
const RENEW_CHUNK = 500;

interface SlotCommands {
  /** numberOfKeys, the keys, max, lease ms, the members. */
  takeUserSlots(...args: (string | number)[]): Promise<number[]>;
  renewUserSlots(key: string, leaseMs: number, ...members: string[]): Promise<number>;
}

export interface ClusterUserCountOptions {
  redisUrl: string;
  gatewayId: string;
  /** WS_MAX_CONNECTIONS_PER_USER (> 0). */
  maxPerUser: number;
  /** How long a connection counts without its gateway renewing it; renewed every third of it. */
  leaseMs: number;
  /** How long admission waits for Redis before it decides on this process's count alone. */
  timeoutMs: number;
}

export interface ClusterUserCountMetrics {
  /** Admissions decided on this process's count alone (Redis down, slow or refusing). */
  fallbacks: { inc(): void };
}

/**
 * The per-user cap counted across every gateway, in Redis: an accelerator, never a single point
 * of failure. Each connection takes its place atomically (TAKE) within `timeoutMs`; Redis down,
 * slow or refusing, the caller's per-process count decides alone and the connection is
 * registered when Redis is back. Places are leases the owning gateway renews: a gateway killed
 * without closing frees its users' places when the lease ends. The takes of one turn go in one
 * script call, and other commands of a turn in one write (auto-pipelining): a reconnect storm is
 * a few round trips, not one per connection.
 */
export class ClusterUserCount {
  private readonly redis: Redis & SlotCommands;
  /** This process's open connections that hold a place, member → user: what renewals re-register. */
  private readonly live = new Map<string, string>();
  /**
   * Places closed while Redis was away (or whose removal failed), member → user and when: removed
   * with the next renewal, so a blip does not hold them a whole lease. In closing order; those
   * closed a lease ago have ended by themselves and are forgotten, so this holds at most what
   * this process had open over one lease.
   */
  private readonly unreleased = new Map<string, { userId: string; at: number }>();
  private readonly memberPrefix: string;
  private next = 0;
  private timer: NodeJS.Timeout | undefined;
  private renewing = false;
  /** Takes asked for in this turn, sent together when it ends. */
  private batch: { key: string; member: string; done: (taken: boolean) => void; failed: (error: unknown) => void }[] = [];
  /** Throttled apart: a storm of slow takes must not hide that renewals fail. */
  private readonly warnTake: ReturnType<typeof throttledWarn>;
  private readonly warnRenew: ReturnType<typeof throttledWarn>;

  constructor(
    private readonly options: ClusterUserCountOptions,
    private readonly metrics: ClusterUserCountMetrics,
    private readonly logger: Logger,
  ) {
    this.memberPrefix = `${options.gatewayId}:${randomBytes(6).toString('hex')}:`;
    this.warnTake = throttledWarn(logger);
    this.warnRenew = throttledWarn(logger);
    this.redis = new Redis(options.redisUrl, {
      lazyConnect: true,
      enableOfflineQueue: false, // down: fail at once, the per-process count decides
      enableAutoPipelining: true,
      maxRetriesPerRequest: 0,
      connectTimeout: Math.max(1000, options.timeoutMs * 2),
      connectionName: `matchcast-gateway-user-cap-${options.gatewayId}`,
      retryStrategy: (times) => Math.min(250 * times, 2000),
    }) as Redis & SlotCommands;
    this.redis.defineCommand('takeUserSlots', { lua: TAKE });
    this.redis.defineCommand('renewUserSlots', { numberOfKeys: 1, lua: RENEW });
    this.redis.on('error', () => undefined); // a failed command says it; the connection retries on its own
    // Back (or first) connected: this gateway's open connections count again at once.
    this.redis.on('ready', () => void this.renew());
  }

  start(): void {
    if (this.timer) return;
    this.redis.connect().catch(() => undefined);
    this.timer = setInterval(() => void this.renew(), this.renewIntervalMs);
    this.timer.unref();
  }

  /**
   * Takes a place for one more connection of the user: the release (safe twice), or undefined
   * when the user is at the cap across the cluster. Without an answer from Redis in time the
   * place is taken here only (and registered by the next renewal).
   */
  async take(userId: string): Promise<(() => void) | undefined> {
    const member = this.memberPrefix + (this.next++).toString(36);
    // Renewals re-register what `live` holds, whatever the cap: a take joins it once decided, else
    // a renewal sent before the take would add its place first (counted against itself, and left behind when refused).
    const held = () => (this.live.set(member, userId), () => this.release(member));
    if (this.redis.status !== 'ready') return this.fellBack(held());
    const { timeoutMs } = this.options;
    try {
      const key = userConnectionsKey(userId);
      const asked = this.batched(key, member);
      const answer = await within(asked, timeoutMs);
      if (answer === TIMED_OUT) {
        this.warnTake({ timeout_ms: timeoutMs }, 'Redis did not answer the per-user cap in time; admitted on this gateway\'s count');
        const release = held();
        // Admitted all the same: a late refusal (the user at the cap meanwhile) still counts the open connection.
        asked.then((taken) => taken || this.register(key, member), () => undefined);
        return this.fellBack(release);
      }
      return answer ? held() : undefined;
    } catch (error) {
      this.warnTake({ err: error }, 'per-user cap not checked in Redis; admitted on this gateway\'s count');
      return this.fellBack(held());
    }
  }

  /** Every third of the lease: a lease outlives two renewals missed. */
  private get renewIntervalMs(): number {
    return Math.max(1, Math.floor(this.options.leaseMs / 3));
  }

  /** Connected to Redis: admissions are counted cluster-wide (else on this process's count alone). */
  get ready(): boolean {
    return this.redis.status === 'ready';
  }

  /**
   * Renews every lease this process holds, re-registering those Redis lost (restarted, or never
   * told), and first removes the places closed while Redis was away.
   */
  async renew(): Promise<boolean> {
    this.forgetEnded();
    if (this.renewing || this.redis.status !== 'ready' || (this.live.size === 0 && this.unreleased.size === 0)) return false;
    this.renewing = true;
    try {
      const removals = [...this.unreleased];
      const byUser = new Map<string, string[]>();
      for (const [member, userId] of this.live) {
        let members = byUser.get(userId);
        if (!members) byUser.set(userId, (members = []));
        members.push(member);
      }
      const pipeline = this.redis.pipeline() as ReturnType<Redis['pipeline']> & { renewUserSlots(key: string, leaseMs: number, ...members: string[]): unknown };
      for (const [member, { userId }] of removals) pipeline.zrem(userConnectionsKey(userId), member);
      for (const [userId, members] of byUser) {
        for (let i = 0; i < members.length; i += RENEW_CHUNK) pipeline.renewUserSlots(userConnectionsKey(userId), this.options.leaseMs, ...members.slice(i, i + RENEW_CHUNK));
      }
      const results = await within(pipeline.exec(), this.renewIntervalMs);
      if (results === TIMED_OUT) {
        // A frozen or black-holed Redis: what waits on it would pile up (each admission's take), so
        // the connection is dropped and made again; until then admissions decide here at once.
        this.logger.warn({ timeout_ms: this.renewIntervalMs }, 'Redis did not answer the per-user cap renewals in time; reconnecting');
        this.redis.disconnect(true);
        return false;
      }
      // Removals done are forgotten (not one closed again since: members are never reused).
      removals.forEach(([member, removal], i) => {
        if (!results?.[i]?.[0] && this.unreleased.get(member) === removal) this.unreleased.delete(member);
      });
      const failed = (results ?? []).find(([error]) => error);
      if (failed) throw failed[0];
      return true;
    } catch (error) {
      this.warnRenew({ err: error }, 'per-user cap leases not renewed in Redis; retrying next interval');
      return false;
    } finally {
      this.renewing = false;
    }
  }

  /** Stops renewing and frees this process's places at once (a drained gateway holds none). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    const members = [...this.live, ...[...this.unreleased].map(([member, { userId }]) => [member, userId] as const)];
    this.live.clear();
    this.unreleased.clear();
    try {
      if (this.redis.status === 'ready' && members.length > 0) {
        const pipeline = this.redis.pipeline();
        for (const [member, userId] of members) pipeline.zrem(userConnectionsKey(userId), member);
        await pipeline.exec();
      }
    } catch {
      // Redis away: the leases end by themselves.
    }
    this.redis.disconnect();
  }

  /** One take, sent with the others of this turn (a reconnect storm's upgrades arrive many a turn): true when taken. */
  private batched(key: string, member: string): Promise<boolean> {
    return new Promise((done, failed) => {
      this.batch.push({ key, member, done, failed });
      if (this.batch.length === 1) setImmediate(() => this.sendBatch());
    });
  }

  private sendBatch(): void {
    const { maxPerUser, leaseMs } = this.options;
    const batch = this.batch;
    this.batch = [];
    for (let i = 0; i < batch.length; i += TAKE_BATCH) {
      const part = batch.slice(i, i + TAKE_BATCH);
      this.redis.takeUserSlots(part.length, ...part.map((take) => take.key), maxPerUser, leaseMs, ...part.map((take) => take.member)).then(
        (answers) => part.forEach((take, j) => take.done(answers[j] === 1)),
        (error: unknown) => part.forEach((take) => take.failed(error)),
      );
    }
  }

  private fellBack(release: () => void): () => void {
    this.metrics.fallbacks.inc();
    return release;
  }

  /** Counts an open connection whatever the cap (renewed from then on with the others), unless it closed meanwhile. */
  private register(key: string, member: string): void {
    if (this.live.has(member)) this.redis.renewUserSlots(key, this.options.leaseMs, member).catch(() => undefined);
  }

  /** Frees the place now, or (Redis away, or the removal failed) with the next renewal. */
  private release(member: string): void {
    const userId = this.live.get(member);
    if (userId === undefined || !this.live.delete(member)) return;
    const later = () => void this.unreleased.set(member, { userId, at: Date.now() });
    if (this.redis.status === 'ready') this.redis.zrem(userConnectionsKey(userId), member).catch(later);
    else later();
  }

  /** Places closed a lease ago or more: no longer renewed since, their lease has ended in Redis. */
  private forgetEnded(): void {
    const ended = Date.now() - this.options.leaseMs;
    for (const [member, { at }] of this.unreleased) {
      if (at > ended) break;
      this.unreleased.delete(member);
    }
  }
}

/** The cluster-wide per-user count as configured: undefined without Redis or without a per-user cap. Not started. */
export function createClusterUserCount(config: Config, fallbacks: ClusterUserCountMetrics['fallbacks'], logger: Logger): ClusterUserCount | undefined {
  const { maxConnectionsPerUser, userCapLeaseMs, userCapRedisTimeoutMs } = config.edge;
  if (!config.redisUrl || maxConnectionsPerUser === 0) return undefined;
  const options = {
    redisUrl: config.redisUrl,
    gatewayId: config.gatewayId,
    maxPerUser: maxConnectionsPerUser,
    leaseMs: userCapLeaseMs,
    timeoutMs: userCapRedisTimeoutMs,
  };
  return new ClusterUserCount(options, { fallbacks }, logger);
}
