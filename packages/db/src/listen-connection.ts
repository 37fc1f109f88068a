import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { InvalidBusMessage } from '@matchcast/protocol';
import { asError, exponentialMs } from '@matchcast/runtime';
import { NOTIFY_KEYS_QUERY, NotifyKeys } from './notify-keys';

/*
 * One dedicated Postgres LISTEN connection that reconnects forever, proves it is alive, and
 * (optionally) LISTENs only while it holds a session advisory lock, so that one process in the
 * cluster listens and the others stand by.
 *
 * Why plain `pg.Client` and not pg-listen: pg-listen keeps its client private and re-LISTENs
 * on its own after every reconnect, so it cannot take `pg_try_advisory_lock` on the very
 * connection that LISTENs (a lock taken on any other connection would not die with the LISTEN
 * socket, and a leader whose LISTEN connection is gone must free the lock at once). Its
 * "paranoid" check query also has no timeout, so a frozen server (SIGSTOP, half-open TCP)
 * hangs it forever, and its default retryTimeout gives up after 3 s. The loop below does
 * connect → lock → LISTEN → health-check itself, on one client it owns.
 * (docs/decisions/0003-plain-pg-client-not-pg-listen.md has the details.)
 */

type LogFn = (fields: Record<string, unknown>, message: string) => void;

/** The part of a pino Logger (`@matchcast/runtime`'s Logger) this module uses. */
export interface ListenLogger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

export interface ListenConnectionOptions {
  connectionString: string;
  channels: readonly string[];
  logger: ListenLogger;
  /** When set: LISTEN only while holding pg_try_advisory_lock(key) on this same connection. */
  leaderLockKey?: number;
  /**
   * How often a standby retries the lock. Default 1000. A leader that closes releases the lock
   * and NOTIFYs LEADER_HANDOVER_CHANNEL, which wakes the standbys at once: the poll only
   * bounds the takeover after a leader died without saying so.
   */
  standbyPollMs?: number;
  /** Period of the `SELECT 1` liveness check. Default 2000. */
  healthCheckIntervalMs?: number;
  /** Timeout of each check query (and of the lock query); on expiry the socket is destroyed. Default 1500. */
  healthCheckTimeoutMs?: number;
  /** Backoff base between reconnect attempts (operators expect 5 s). Default 5000. */
  reconnectDelayMs?: number;
  /** Backoff cap. Default 4 × reconnectDelayMs. */
  maxReconnectDelayMs?: number;
  /** Timeout of the TCP connect + startup handshake. Default 5000. */
  connectTimeoutMs?: number;
  /** TCP keepalive initial delay. Default 1000. */
  keepAliveInitialDelayMs?: number;
  applicationName?: string;
  /**
   * The channels carry the outbox's signed notifications (018_signed_notifications.sql): the
   * keys are read before LISTEN and every keysRefreshMs, and a notification that does not
   * verify is emitted as 'rejected', never as 'notification' (whose payload is then the signed
   * part alone).
   */
  verifySignatures?: boolean;
  /** How often the keys are read again. Default 30000: a rotated key signs two minutes after it is made. */
  keysRefreshMs?: number;
}

/** A closing leader NOTIFYs this channel (payload: its lock key) right after releasing the lock. */
export const LEADER_HANDOVER_CHANNEL = 'matchcast_leader_handover';
/** The shortest time between a standby's lock retries (or standbyPollMs, when shorter). */
const HANDOVER_RETRY_MS = 100;

export type ListenState = 'idle' | 'connecting' | 'standby' | 'listening' | 'closed';

export type ListenErrorCode = 'PG_LISTEN_TIMEOUT' | 'PG_LISTEN_CONNECTION_ENDED';

export class ListenConnectionError extends Error {
  constructor(
    readonly code: ListenErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ListenConnectionError';
  }
}

export interface ListenConnectionEvents {
  listening: [];
  notification: [channel: string, payload: string];
  rejected: [channel: string, error: InvalidBusMessage];
  lost: [error: Error];
  standby: [];
}

/** One connection attempt: its client, and a failure that aborts every step waiting on it. */
class Session {
  private failure: Error | undefined;
  private readonly aborts = new Set<(error: Error) => void>();
  lockHeld = false;

  constructor(readonly client: pg.Client) {}

  get failed(): boolean {
    return this.failure !== undefined;
  }

  get error(): Error | undefined {
    return this.failure;
  }

  /** Marks the session dead (once), wakes every waiting step and, by default, drops the socket. */
  fail(error: Error, destroy = true): void {
    if (this.failure) return;
    this.failure = error;
    for (const abort of this.aborts) abort(error);
    this.aborts.clear();
    if (destroy) destroySocket(this.client);
  }

  /** `promise`, or the session's failure if that comes first (without leaking a handler per call). */
  guard<T>(promise: Promise<T>): Promise<T> {
    if (this.failure) {
      promise.catch(() => undefined);
      return Promise.reject(this.failure);
    }
    return new Promise<T>((resolve, reject) => {
      const abort = (error: Error) => reject(error);
      this.aborts.add(abort);
      promise.then(
        (value) => {
          this.aborts.delete(abort);
          resolve(value);
        },
        (error: unknown) => {
          this.aborts.delete(abort);
          reject(error);
        },
      );
    });
  }

  sleep(ms: number): Promise<void> {
    return this.guard(
      new Promise<void>((resolve) => {
        setTimeout(resolve, ms).unref();
      }),
    );
  }
}

/** Drops the TCP socket at once: `end()` would wait for a frozen server forever. */
function destroySocket(client: pg.Client): void {
  const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
  try {
    stream?.destroy();
  } catch {
    // already gone
  }
}

function seconds(ms: number): string {
  return String(Number((ms / 1000).toFixed(1)));
}


export class ListenConnection extends EventEmitter<ListenConnectionEvents> {
  private currentState: ListenState = 'idle';
  private session: Session | undefined;
  private closing: Promise<void> | undefined;
  private wakeBackoff: (() => void) | undefined;
  /** 'lost' is emitted once per outage, not once per failed reconnect attempt. */
  private lostReported = false;

  private readonly channels: readonly string[];
  private readonly logger: ListenLogger;
  private readonly standbyPollMs: number;
  private readonly healthCheckIntervalMs: number;
  private readonly healthCheckTimeoutMs: number;
  private readonly reconnectDelayMs: number;
  private readonly maxReconnectDelayMs: number;
  private readonly clientConfig: pg.ClientConfig;
  private readonly keys: NotifyKeys | undefined;
  private readonly keysRefreshMs: number;

  constructor(private readonly options: ListenConnectionOptions) {
    super();
    if (options.channels.length === 0) throw new Error('ListenConnection needs at least one channel');
    this.channels = [...options.channels];
    this.logger = options.logger;
    this.standbyPollMs = options.standbyPollMs ?? 1000;
    this.healthCheckIntervalMs = options.healthCheckIntervalMs ?? 2000;
    this.healthCheckTimeoutMs = options.healthCheckTimeoutMs ?? 1500;
    this.reconnectDelayMs = options.reconnectDelayMs ?? 5000;
    this.maxReconnectDelayMs = Math.max(this.reconnectDelayMs, options.maxReconnectDelayMs ?? 4 * this.reconnectDelayMs);
    this.keys = options.verifySignatures ? new NotifyKeys() : undefined;
    this.keysRefreshMs = options.keysRefreshMs ?? 30_000;
    this.clientConfig = {
      connectionString: options.connectionString,
      // A short keepalive delay lets the kernel notice a vanished peer (NAT drop, dead host)
      // within seconds instead of the ~2 h default; a frozen server still ACKs probes, which
      // is what the timed check query is for.
      keepAlive: true,
      keepAliveInitialDelayMillis: options.keepAliveInitialDelayMs ?? 1000,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      application_name: options.applicationName ?? 'matchcast-listen',
    };
  }

  get state(): ListenState {
    return this.currentState;
  }

  /** Connects in the background and keeps reconnecting until close(). Calling it again is a no-op. */
  start(): void {
    if (this.currentState !== 'idle') return;
    this.currentState = 'connecting';
    void this.run();
  }

  /** Stops for good: releases the leader lock, ends the connection. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.currentState = 'closed';
    this.wakeBackoff?.();
    const session = this.session;
    this.session = undefined;
    if (!session || session.failed) return;
    // Stop the loop's steps without dropping the socket, then say goodbye properly.
    session.fail(new Error('closed'), false);
    const { client } = session;
    try {
      if (session.lockHeld) {
        // Explicit unlock, and a wake-up for the standbys (delivered once this commits, so the
        // lock is free by then): one of them takes over within milliseconds, not a poll period.
        await this.withTimeout(
          client.query('SELECT pg_advisory_unlock($1), pg_notify($2, $3)', [this.options.leaderLockKey, LEADER_HANDOVER_CHANNEL, String(this.options.leaderLockKey)]),
        );
      }
      await this.withTimeout(client.end());
    } catch (error) {
      this.logger.warn({ err: asError(error) }, 'PostgreSQL LISTEN connection did not close cleanly; dropping it');
      destroySocket(client);
    }
    this.logger.info({ application_name: this.clientConfig.application_name }, 'PostgreSQL LISTEN connection closed');
  }

  private withTimeout<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new ListenConnectionError('PG_LISTEN_TIMEOUT', `no answer within ${this.healthCheckTimeoutMs} ms`)),
        this.healthCheckTimeoutMs,
      );
      timer.unref();
      promise.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  private get isClosed(): boolean {
    return this.closing !== undefined;
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.isClosed) {
      const session = new Session(new pg.Client(this.clientConfig));
      this.session = session;
      try {
        await this.runSession(session, () => (attempt = 0));
      } catch (error) {
        session.fail(asError(error));
      }
      if (this.isClosed) break;
      this.currentState = 'connecting';
      const error = session.error ?? new Error('connection lost');
      this.logger.error({ err: error, code: (error as { code?: string }).code }, `Connection error: ${error.message}`);
      if (!this.lostReported) {
        this.lostReported = true;
        this.safeEmit('lost', error);
      }
      const delay = exponentialMs(attempt, this.reconnectDelayMs, this.maxReconnectDelayMs);
      attempt += 1;
      this.logger.info({ delay_ms: delay, attempt }, `Reconnecting in ${seconds(delay)} seconds...`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        timer.unref();
        this.wakeBackoff = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeBackoff = undefined;
    }
  }

  /** connect → (lock) → LISTEN → health checks, until the session fails. Never returns normally. */
  private async runSession(session: Session, connected: () => void): Promise<void> {
    const { client } = session;
    // Notifications that arrive before 'listening' is emitted are held back, so consumers see
    // 'listening' (and run their catch-up) before any live notification of this connection.
    let backlog: Array<[string, string]> | undefined = [];
    const lockKey = this.options.leaderLockKey;
    // A standby's lock retry: after standbyPollMs, or at once when the leader hands over.
    let handedOver = false;
    let wakeStandby: (() => void) | undefined;
    client.on('notification', (message) => {
      if (session.failed) return;
      if (message.channel === LEADER_HANDOVER_CHANNEL) {
        if (message.payload === String(lockKey)) {
          handedOver = true;
          wakeStandby?.();
        }
        return;
      }
      const payload = message.payload ?? '';
      if (backlog) backlog.push([message.channel, payload]);
      else this.deliver(message.channel, payload);
    });
    client.on('error', (error) => session.fail(error));
    client.on('end', () =>
      session.fail(new ListenConnectionError('PG_LISTEN_CONNECTION_ENDED', 'Connection terminated unexpectedly')),
    );

    await session.guard(client.connect());
    this.logger.info({ application_name: this.clientConfig.application_name }, 'Connected to PostgreSQL');
    connected();
    this.lostReported = false;

    if (lockKey !== undefined) {
      await this.timedQuery(session, `LISTEN ${LEADER_HANDOVER_CHANNEL}`);
      // Any login may NOTIFY the handover channel: lock retries are at least HANDOVER_RETRY_MS
      // apart however many wake-ups come (a flood of forged ones had every standby send a lock
      // query per NOTIFY, 4,000 a second each); a real handover in a flood waits that long at most.
      const retryGapMs = Math.min(HANDOVER_RETRY_MS, this.standbyPollMs);
      let triedAt = 0;
      for (;;) {
        const early = triedAt + retryGapMs - Date.now();
        if (early > 0) await session.sleep(early);
        triedAt = Date.now();
        handedOver = false;
        const { rows } = await this.timedQuery(session, 'SELECT pg_try_advisory_lock($1) AS locked', [lockKey]);
        if ((rows[0] as { locked?: boolean } | undefined)?.locked) break;
        if (this.currentState !== 'standby') {
          this.currentState = 'standby';
          this.logger.info({ lock_key: lockKey }, 'another listener holds the leader lock; standing by');
          this.safeEmit('standby');
        }
        if (handedOver) continue; // the leader let go while the lock query was in flight
        await session.guard(
          new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, this.standbyPollMs);
            timer.unref();
            wakeStandby = () => {
              clearTimeout(timer);
              resolve();
            };
          }),
        );
        wakeStandby = undefined;
      }
      session.lockHeld = true;
      this.logger.info({ lock_key: lockKey }, 'leader lock acquired');
    }

    let keysReadAt = 0;
    const readKeys = async (keys: NotifyKeys) => {
      keys.replace((await this.timedQuery(session, NOTIFY_KEYS_QUERY)).rows as Array<{ id: number; secret: Buffer }>);
      keysReadAt = Date.now();
    };
    if (this.keys) await readKeys(this.keys);
    await this.timedQuery(session, this.channels.map((channel) => `LISTEN ${client.escapeIdentifier(channel)}`).join('; '));
    this.currentState = 'listening';
    this.logger.info({ channels: this.channels }, 'listening for notifications');
    this.safeEmit('listening');
    const held = backlog;
    backlog = undefined;
    for (const [channel, payload] of held) {
      if (session.failed) break;
      this.deliver(channel, payload);
    }

    for (;;) {
      await session.sleep(this.healthCheckIntervalMs);
      if (this.keys && Date.now() - keysReadAt >= this.keysRefreshMs) await readKeys(this.keys);
      else await this.timedQuery(session, 'SELECT 1');
    }
  }

  private deliver(channel: string, notification: string): void {
    let payload = notification;
    if (this.keys) {
      try {
        payload = this.keys.open(notification);
      } catch (error) {
        this.safeEmit('rejected', channel, error as InvalidBusMessage);
        return;
      }
    }
    this.safeEmit('notification', channel, payload);
  }

  /**
   * A consumer's handler that throws must neither kill pg's socket parser (notifications are
   * emitted from inside it) nor pass for a connection failure: log it and carry on.
   */
  private safeEmit<K extends keyof ListenConnectionEvents>(event: K, ...args: ListenConnectionEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: ListenConnectionEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      this.logger.error({ err: asError(error), event }, 'ListenConnection event handler threw');
    }
  }

  /** A query that must answer within healthCheckTimeoutMs, or the connection is treated as lost. */
  private timedQuery(session: Session, text: string, values?: unknown[]): Promise<pg.QueryResult> {
    return session.guard(
      new Promise<pg.QueryResult>((resolve, reject) => {
        const timer = setTimeout(() => {
          session.fail(
            new ListenConnectionError(
              'PG_LISTEN_TIMEOUT',
              `PostgreSQL did not answer within ${this.healthCheckTimeoutMs} ms (frozen server or dead link)`,
            ),
          );
        }, this.healthCheckTimeoutMs);
        timer.unref();
        session.client.query(text, values).then(
          (result) => {
            clearTimeout(timer);
            resolve(result);
          },
          (error: unknown) => {
            clearTimeout(timer);
            reject(asError(error));
          },
        );
      }),
    );
  }
}
