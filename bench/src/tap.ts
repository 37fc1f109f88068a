import { REDIS_EVENTS_CHANNEL, type ForwardedNotification } from '@matchcast/protocol';
import { Redis } from 'ioredis';
import { onCleanup } from './cleanup';
import { nowMs, summarize, type LatencySummary } from './stats';
import type { WriteResult } from './writer';

/**
 * A passive extra subscriber on 'pg_notify:events': when each event reached Redis. Splits the
 * commit → client latency into commit → Redis (Postgres NOTIFY + listener) and the rest
 * (Redis → server → client), without touching the services.
 */
export class RedisTap {
  private readonly redis: Redis;
  private seen: { stream: string; seq: number; at: number }[] = [];

  constructor(url: string) {
    this.redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: null });
    this.redis.on('message', (_channel: string, message: string) => {
      const at = nowMs();
      try {
        const payload = JSON.parse((JSON.parse(message) as ForwardedNotification).payload) as { stream?: string; seq?: number };
        if (typeof payload.stream === 'string' && typeof payload.seq === 'number') this.seen.push({ stream: payload.stream, seq: payload.seq, at });
      } catch {
        // not an event: ignore
      }
    });
    this.redis.on('error', () => undefined);
  }

  async start(): Promise<void> {
    await this.redis.connect();
    await this.redis.subscribe(REDIS_EVENTS_CHANNEL);
    onCleanup('redis tap', () => this.redis.disconnect());
  }

  reset(): void {
    this.seen = [];
  }

  /** commit → seen on Redis, for the events of `write`. */
  latency(write: WriteResult): { latencyMs: LatencySummary | undefined; seen: number } {
    const index = new Map(write.streams.map((s, i) => [s, i]));
    const values: number[] = [];
    for (const { stream, seq, at } of this.seen) {
      const i = index.get(stream);
      if (i === undefined) continue;
      const committed = write.commits[i]![seq - write.firstSeq[i]!];
      if (committed !== undefined && Number.isFinite(committed)) values.push(at - committed);
    }
    return { latencyMs: summarize(Float64Array.from(values)), seen: values.length };
  }
}
