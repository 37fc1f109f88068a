/**
 * The system under fuzz: throwaway Postgres + Redis (tests/harness Infra), a notify-listener
 * and ONE gateway child process, plus what the fuzz properties need to judge it from the
 * outside: is the process alive, /healthz, /readyz connections, RSS and CPU from /proc, its
 * log since a point (for crash stacks), and a restart after a crash so later runs (and
 * fast-check's shrinking) see a fresh gateway. Only 127.0.0.1 is ever used.
 */
import { createHmac } from 'node:crypto';
import { Redis } from 'ioredis';
import { GatewayProcess, Infra, ServiceProcess, freePort, waitFor, LOG_DIR } from '../../harness/stack';
import { ProcessUnderFuzz, sleep } from './process-under-fuzz';

export { LOG_DIR, sleep, waitFor };

/** 32+ characters, so the gateway accepts tokens and the fuzz can sign some of its own. */
export const JWT_SECRET = 'fuzz-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
export const MAX_PAYLOAD_BYTES = 4096;
export const MESSAGES_PER_SECOND = 1000;
/** A match that exists in the database; its stream is also a target of forged bus messages. */
export const LIVE_MATCH = 'fz-live';
export const LIVE_STREAM = `match:${LIVE_MATCH}`;
export const USER_ID = 'fuzz-user';

const b64 = (value: string): string => Buffer.from(value).toString('base64url');

/** Signatures of every token the fuzz sent: none of them may ever appear in the gateway's log. */
export const issuedSignatures = new Set<string>();

/** An HS256 JWT signed with the gateway's secret; header and claims are raw JSON text (may be odd). */
export function signToken(claimsJson: string, headerJson = '{"alg":"HS256","typ":"JWT"}', secret = JWT_SECRET): string {
  const head = `${b64(headerJson)}.${b64(claimsJson)}`;
  const signature = createHmac('sha256', secret).update(head).digest('base64url');
  issuedSignatures.add(signature);
  return `${head}.${signature}`;
}

/** Percent-encodes any string's UTF-8 bytes (lone surrogates become U+FFFD, never a URIError). */
export function pct(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export class FuzzStack extends ProcessUnderFuzz {
  readonly infra = new Infra();
  listener!: ServiceProcess;
  gateway!: GatewayProcess;
  redis!: Redis;
  port = 0;

  async start(): Promise<void> {
    await this.infra.start(true);
    await this.infra.db.query(`INSERT INTO league (id, name) VALUES ('fz-l', 'Fuzz League');
      INSERT INTO team (id, league_id, name) VALUES ('fz-h', 'fz-l', 'Fuzz Home'), ('fz-a', 'fz-l', 'Fuzz Away');
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at, status)
        VALUES ('${LIVE_MATCH}', 'fz-l', 'fz-h', 'fz-a', now(), 'live');
      INSERT INTO scoreboard (match_id) VALUES ('${LIVE_MATCH}')`);
    // A few events so the stream has a head > 0 and resume/replay paths have rows to read.
    for (let i = 0; i < 3; i++) await this.writeUpdate();
    const env = { DATABASE_URL: this.infra.postgres.url, REDIS_URL: this.infra.redis.url };
    this.listener = new ServiceProcess('notify-listener', {
      ...env,
      LISTENER_HOST: '127.0.0.1',
      LISTENER_PORT: String(await freePort()),
    }, 'fuzz-notify-listener').start();
    this.port = await freePort();
    this.gateway = new GatewayProcess(this.port, await freePort(), {
      ...env,
      WS_MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD_BYTES),
      WS_MESSAGES_PER_SECOND: String(MESSAGES_PER_SECOND),
      AUTH_JWT_SECRET: JWT_SECRET,
      LOG_LEVEL: 'info',
    }, 'fuzz-gateway');
    this.gateway.start();
    await this.gateway.ready(30_000);
    // Its bus messages are published from the start: it must be subscribed (a heartbeat in), not only say redis.
    await this.gateway.deliveringThrough('redis', 15_000);
    this.redis = new Redis(this.infra.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: true });
    await this.redis.connect();
  }

  async destroy(): Promise<void> {
    this.redis?.disconnect();
    await Promise.all([this.gateway?.stop(), this.listener?.stop()]);
    await this.infra.destroy();
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get service(): GatewayProcess {
    return this.gateway;
  }

  /** The gateway's ops port: /healthz, /readyz, /metrics. */
  get opsBase(): string {
    return `http://127.0.0.1:${this.gateway.opsPort}`;
  }

  /** Open connections as the gateway counts them (GET /readyz). */
  async connections(): Promise<number | undefined> {
    try {
      const res = await fetch(`${this.opsBase}/readyz`, { signal: AbortSignal.timeout(3000) });
      const body = (await res.json()) as Record<string, any>;
      const value = body.detail?.connections ?? body.connections;
      return typeof value === 'number' ? value : undefined;
    } catch {
      return undefined;
    }
  }

  /** Kills (if needed) and starts the gateway again on the same port, then waits for readiness. */
  async restart(reason: string): Promise<void> {
    if (this.alive()) await this.gateway.kill();
    this.gateway.start();
    this.restarts.push({ at: new Date().toISOString(), reason, pid: this.pid });
    await this.gateway.ready(30_000);
    await this.gateway.deliveringThrough('redis', 15_000).catch(() => undefined);
    await sleep(300);
    this.recordBaseline();
  }

  /** Commits one score change on the live match: one outbox row on LIVE_STREAM. Returns its seq. */
  async writeUpdate(): Promise<number> {
    await this.infra.db.query('UPDATE scoreboard SET home_score = home_score + 1, updated_at = now() WHERE match_id = $1', [LIVE_MATCH]);
    const { rows } = await this.infra.db.query<{ seq: string }>('SELECT max(seq)::text AS seq FROM outbox WHERE stream = $1', [LIVE_STREAM]);
    return Number(rows[0]?.seq ?? 0);
  }

  async head(stream = LIVE_STREAM): Promise<number> {
    const { rows } = await this.infra.db.query<{ seq: string | null }>('SELECT max(seq)::text AS seq FROM outbox WHERE stream = $1', [stream]);
    return Number(rows[0]?.seq ?? 0);
  }
}
