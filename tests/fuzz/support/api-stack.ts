/**
 * The API under fuzz: a throwaway Postgres (migrated, the API logging in as a member of
 * matchcast_api, as in production) and Redis, seeded with a public and a private league, and
 * ONE API child process (node dist/main.js).
 */
import { RedisServer, type PostgresServer } from '@matchcast/testkit';
import type pg from 'pg';
import { apiEnv, startDatabase, token } from '../../../services/api/test/support';
import { ServiceProcess, freePort, waitFor } from '../../harness/stack';
import { ProcessUnderFuzz, sleep } from './process-under-fuzz';

/** Users with tokens; `boss` is an admin, `feeder` a service. */
export const USERS = { alice: [], bob: [], boss: ['admin'], feeder: ['service'] } as const satisfies Record<string, readonly string[]>;
export type UserName = keyof typeof USERS;

export class ApiFuzzStack extends ProcessUnderFuzz {
  api!: ServiceProcess;
  private server!: PostgresServer;
  readonly redis = new RedisServer();
  admin!: pg.Pool;
  port = 0;
  opsPort = 0;
  readonly tokens = new Map<UserName, string>();
  /** Ids the seed made, for requests that name real rows. */
  readonly ids = { notification: '', purchase: '', announcement: '' };

  get service(): ServiceProcess {
    return this.api;
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get opsBase(): string {
    return `http://127.0.0.1:${this.opsPort}`;
  }

  async start(): Promise<void> {
    let apiUrl: string;
    [{ server: this.server, admin: this.admin, apiUrl }] = await Promise.all([startDatabase(), this.redis.start()]);
    await this.admin.query(`INSERT INTO league (id, name) VALUES ('cup', 'Private Cup');
      INSERT INTO team (id, league_id, name) VALUES ('t1', 'cup', 'One'), ('t2', 'cup', 'Two');
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('c1', 'cup', 't1', 't2', now());
      UPDATE league SET private = true WHERE id = 'cup';
      INSERT INTO league_member (league_id, user_id, added_by) VALUES ('cup', 'alice', 'boss')`);
    for (const [user, roles] of Object.entries(USERS)) this.tokens.set(user as UserName, await token(user, [...roles]));
    [this.port, this.opsPort] = [await freePort(), await freePort()];
    this.api = new ServiceProcess('api', apiEnv(apiUrl, {
      PORT: String(this.port), OPS_PORT: String(this.opsPort), LOG_LEVEL: 'info', REDIS_URL: this.redis.url,
    }), 'fuzz-api');
    this.api.start();
    await this.ready();
    await this.seedRows();
  }

  /** One notification for alice, a purchase of hers, an announcement: real ids to aim at. */
  private async seedRows(): Promise<void> {
    const call = async (user: UserName, method: string, path: string, body: unknown) => {
      const res = await fetch(`${this.base}${path}`, {
        method, headers: { authorization: `Bearer ${this.tokens.get(user)}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
      });
      if (res.status >= 300) throw new Error(`seeding ${method} ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as Record<string, any>;
    };
    const sent = await call('feeder', 'POST', '/api/notifications', { user_ids: ['alice'], type: 'general', title: 'Hello', message: 'Seeded' });
    this.ids.notification = String(sent.notifications[0].id);
    this.ids.purchase = String((await call('alice', 'POST', '/api/purchases', { match_id: 'm1', quantity: 1 })).id);
    this.ids.announcement = String((await call('boss', 'POST', '/api/announcements', { target: 'league', target_id: 'epl', type: 'general', title: 'Kick-off', message: 'Soon' })).id);
  }

  private async ready(): Promise<void> {
    await waitFor('api ready', async () => {
      if (!this.alive()) throw new Error(`the api exited: ${this.api.logTail()}`);
      const res = await fetch(`${this.opsBase}/readyz`).catch(() => undefined);
      return res?.status === 200 ? true : undefined;
    }, 30_000);
  }

  async restart(reason: string): Promise<void> {
    if (this.alive()) await this.api.kill();
    this.api.start();
    this.restarts.push({ at: new Date().toISOString(), reason, pid: this.pid });
    await this.ready();
    await sleep(200);
    this.recordBaseline();
  }

  async destroy(): Promise<void> {
    await this.api?.stop();
    await this.admin?.end();
    await Promise.all([this.server?.destroy(), this.redis.destroy()]);
  }
}
