import { migrate } from '@matchcast/db';
import { EnvReader, createLogger } from '@matchcast/runtime';
import { PostgresServer } from '@matchcast/testkit';
import pg from 'pg';
import { loadConfig } from '../src/config';
import { startGateway, type Gateway } from '../src/gateway';

/**
 * A gateway on its own Postgres (no Redis, no canary) with one match, m1 (epl: ars v che).
 * `db` writes as the schema owner (the tests' events); close() ends it all.
 */
export async function startOneMatchGateway(): Promise<{ gateway: Gateway; db: pg.Client; close(): Promise<void> }> {
  const server = await new PostgresServer().start();
  const db = new pg.Client(server.url);
  await db.connect();
  await migrate(db);
  await db.query(`INSERT INTO league VALUES ('epl', 'Premier League');
    INSERT INTO team (id, league_id, name) VALUES ('ars', 'epl', 'Arsenal'), ('che', 'epl', 'Chelsea');
    INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('m1', 'epl', 'ars', 'che', now())`);
  const config = loadConfig(new EnvReader({ DATABASE_URL: server.url, PORT: '0', OPS_PORT: '0', HOST: '127.0.0.1', CANARY_INTERVAL_MS: '0', LOG_LEVEL: 'silent' }));
  const gateway = await startGateway(config, createLogger('gateway', 'silent'));
  return {
    gateway,
    db,
    close: async () => {
      await gateway.close();
      await db.end();
      await server.destroy();
    },
  };
}

/** The promise's value, or 'still open' when it has not settled within `ms`. */
export const within = <T>(promise: Promise<T>, ms: number): Promise<T | 'still open'> =>
  Promise.race([promise, new Promise<'still open'>((resolve) => setTimeout(() => resolve('still open'), ms).unref())]);
