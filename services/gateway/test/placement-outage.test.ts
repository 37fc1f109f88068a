/**
 * A team's own events wait for one read of its league where it is not known here (StreamGate):
 * a database that stops answering (frozen, a link black-holed) must not hold them for as long.
 */
import { migrate } from '@matchcast/db';
import { EnvReader, createLogger } from '@matchcast/runtime';
import { PostgresServer, RedisServer, deliveringThrough, waitFor } from '@matchcast/testkit';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { loadConfig as loadListenerConfig } from '../../notify-listener/src/config';
import { startListener, type RunningListener } from '../../notify-listener/src/listener';
import { loadConfig } from '../src/config';
import { startGateway, type Gateway } from '../src/gateway';
import { TEST_SECRET, TestClient, metricValue } from './support';

const STATEMENT_TIMEOUT_MS = 500;

describe("a team's events waiting for its read while the database does not answer", () => {
  let postgres: PostgresServer;
  let redis: RedisServer;
  let db: pg.Pool;
  let listener: RunningListener;
  let gateway: Gateway;
  const frozen: number[] = [];

  beforeAll(async () => {
    [postgres, redis] = await Promise.all([new PostgresServer().start(), new RedisServer().start()]);
    db = new pg.Pool({ connectionString: postgres.url, max: 2 });
    await migrate(db);
    await db.query(`INSERT INTO league VALUES ('l', 'League')`);
    const env = { DATABASE_URL: postgres.url, REDIS_URL: redis.url, PORT: '0', OPS_PORT: '0', LISTENER_PORT: '0', HOST: '127.0.0.1', LISTENER_HOST: '127.0.0.1' };
    listener = await startListener(loadListenerConfig(new EnvReader({ ...env, LISTENER_HEARTBEAT_INTERVAL_MS: '100' })), createLogger('listener', 'silent'));
    gateway = await startGateway(
      loadConfig(new EnvReader({ ...env, AUTH_JWT_SECRET: TEST_SECRET, CANARY_INTERVAL_MS: '0', REPLAY_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS) })),
      createLogger('gateway', 'silent'),
    );
    const ops = `http://127.0.0.1:${gateway.opsPort}`;
    await deliveringThrough(ops, 'redis');
  }, 60_000);

  afterAll(async () => {
    for (const pid of frozen) process.kill(pid, 'SIGCONT');
    await gateway?.close();
    await listener?.close();
    await db?.end();
    await Promise.all([postgres?.destroy(), redis?.destroy()]);
  });

  it('go out within a bound (as after a failed read), not once the database answers again', async () => {
    await db.query(`INSERT INTO team (id, league_id, name) VALUES ('t', 'l', 'T')`);
    const announce = (on: pg.ClientBase | pg.Pool) => on.query(`SELECT matchcast_create_announcement('hello', 'm', 'general', 'normal', 'team', 't', NULL, NULL, 'root')`);
    const client = new TestClient(`ws://127.0.0.1:${gateway.port}/ws`);
    await client.opened();
    client.send({ action: 'subscribe', channels: ['team:t'] });
    await client.next((m) => m.type === 'subscribed');
    await announce(db);
    await client.next((m) => m.type === 'announcement');
    // A member added to the league: its state here turns stale, and the team's next event waits for a read.
    // (league:l is followed here since the team's row in its table: its next event is applied on arrival.)
    const received = () => metricValue(`http://127.0.0.1:${gateway.opsPort}`, 'matchcast_gateway_events_received_total', 'source="redis"');
    const before = await received();
    await db.query(`SELECT matchcast_add_league_member('l', 'alice', 'root')`);
    await waitFor('the league_access event received', async () => ((await received()) > before ? true : undefined));
    // The gateway's reads get no answer: its read connections' backends, and the postmaster (new ones), frozen.
    const writer = await db.connect();
    const { rows } = await writer.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE application_name = 'matchcast-gateway-replay'`);
    expect(rows.length).toBeGreaterThan(0);
    // The parent of a backend (field 4 of /proc/<pid>/stat).
    const postmaster = Number(readFileSync(`/proc/${rows[0]!.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
    for (const pid of [...rows.map((row) => row.pid), postmaster]) (process.kill(pid, 'SIGSTOP'), frozen.push(pid));
    await announce(writer);
    writer.release();
    // Given up after two statement timeouts (1 s); before, held for as long as the database was frozen.
    await client.next((m) => m.type === 'announcement' && m.seq === 2, 10 * STATEMENT_TIMEOUT_MS);
    for (const pid of frozen.splice(0)) process.kill(pid, 'SIGCONT');
    client.ws.close();
  }, 30_000);
});
