import { randomBytes } from 'node:crypto';
import { canaryStream, isRef, type OutboxEvent, type OutboxRef } from '@matchcast/protocol';
import { asError, throttledWarn, type Logger } from '@matchcast/runtime';

export interface CanaryOptions {
  gatewayId: string;
  /** Time between the end of one probe and the start of the next. */
  intervalMs: number;
  /** A probe not back within this long counts as a `timeout` failure. */
  timeoutMs: number;
}

/** What the canary reports; createCanaryMetrics (metrics.ts) fits it. */
export interface CanaryMetrics {
  latency: { observe(seconds: number): void };
  lastSuccess: { set(unixSeconds: number): void };
  failures: { inc(labels: { reason: CanaryFailure }): void };
}

export type CanaryFailure = 'write_failed' | 'timeout';

/** Whether the gateway reports a delivering path (readiness); probes pause while it does not. */
export type DeliveringCheck = () => boolean;

/** Commits one canary event (matchcast_canary) for this gateway's stream, with its token. */
export type CanaryWrite = (gatewayId: string, token: string) => Promise<void>;

interface Probe {
  token: string;
  /** performance.now() just before the committing statement was sent. */
  sentAt: number;
  settle: () => void;
}

/**
 * The delivery canary: proves end to end that a committed event reaches this gateway through
 * the path in use (database → trigger → NOTIFY → listener → Redis → here, or this gateway's own
 * LISTEN in fallback), which no process's health check does. One probe at a time: commit an
 * event with a random token to `canary:<gateway id>`, wait for that token to come back on the
 * bus, record the latency or the failure, pause, repeat. Probes run while the gateway reports
 * a delivering path — the failures no health check sees.
 *
 * Bus messages are untrusted: a canary event only counts when it is on this gateway's stream
 * and carries the token of the probe in flight; anything else (other gateways' canaries, stale
 * or forged tokens, references) is dropped without effect.
 */
export class DeliveryCanary {
  private readonly stream: string;
  private probe: Probe | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly warn: ReturnType<typeof throttledWarn>;

  constructor(
    private readonly options: CanaryOptions,
    private readonly write: CanaryWrite,
    private readonly delivering: DeliveringCheck,
    private readonly metrics: CanaryMetrics,
    logger: Logger,
  ) {
    this.stream = canaryStream(options.gatewayId);
    this.warn = throttledWarn(logger);
  }

  start(): void {
    if (this.timer || this.closed) return;
    this.schedule(0);
  }

  /** A canary stream's event from a broker (any gateway's: only this one's own probe counts). */
  received(item: OutboxEvent | OutboxRef): void {
    const probe = this.probe;
    if (!probe || item.stream !== this.stream || isRef(item) || item.data.token !== probe.token) return;
    this.metrics.latency.observe((performance.now() - probe.sentAt) / 1000);
    this.metrics.lastSuccess.set(Date.now() / 1000);
    probe.settle();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.probe?.settle();
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => void this.run(), delayMs);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    if (this.closed) return;
    // Not ready (starting, or no path delivering): readiness already says so, and an event
    // committed now would be caught up, not delivered live. last_success goes stale meanwhile.
    if (!this.delivering()) {
      this.schedule(this.options.intervalMs);
      return;
    }
    const failure = await this.send();
    if (failure) {
      this.metrics.failures.inc({ reason: failure.reason });
      this.warn(
        { reason: failure.reason, stream: this.stream, timeout_ms: this.options.timeoutMs, err: failure.error },
        'delivery canary failed: a committed event did not come back',
      );
    }
    if (!this.closed) this.schedule(this.options.intervalMs);
  }

  /** One probe: resolves when its event is back (undefined), or with why not. */
  private async send(): Promise<{ reason: CanaryFailure; error?: Error } | undefined> {
    const token = randomBytes(12).toString('base64url');
    let timeout: NodeJS.Timeout | undefined;
    const back = new Promise<boolean>((resolve) => {
      this.probe = { token, sentAt: performance.now(), settle: () => resolve(true) };
      timeout = setTimeout(() => resolve(false), this.options.timeoutMs);
      timeout.unref();
    });
    try {
      await this.write(this.options.gatewayId, token);
      return (await back) ? undefined : { reason: 'timeout' };
    } catch (error) {
      return { reason: 'write_failed', error: asError(error) };
    } finally {
      clearTimeout(timeout);
      this.probe = undefined;
    }
  }
}
