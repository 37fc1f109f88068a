import { PostgresServer } from '@matchcast/testkit';
import pg from 'pg';
import { listenerLeaderId, matchLeader } from '../src/leader';

describe('listenerLeaderId (real Postgres)', () => {
  const server = new PostgresServer();
  let db: pg.Pool;
  const holders: pg.Client[] = [];

  beforeAll(async () => {
    await server.start();
    db = new pg.Pool({ connectionString: server.url, max: 2 });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(holders.map((client) => client.end()));
    await db.end();
    await server.destroy();
  });

  async function holdLock(applicationName: string, key: number | bigint): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: server.url, application_name: applicationName });
    await client.connect();
    holders.push(client);
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS locked', [key.toString()]);
    expect(rows[0]!.locked).toBe(true);
    return client;
  }

  it('names the session holding the lock, from its application_name', async () => {
    expect(await listenerLeaderId(db)).toBeUndefined();
    await holdLock('matchcast-listener gw-7d9f-x2x4z-1', 7_246_102);
    expect(await listenerLeaderId(db)).toBe('gw-7d9f-x2x4z-1');
    // Another key is another lock.
    expect(await listenerLeaderId(db, 42)).toBeUndefined();
  });

  it('handles keys above 32 bits (classid holds the high half)', async () => {
    const key = 2 ** 40 + 5;
    await holdLock('matchcast-listener big', key);
    expect(await listenerLeaderId(db, key)).toBe('big');
    expect(await listenerLeaderId(db, 5)).toBeUndefined();
  });
});

describe('matchLeader', () => {
  it('finds the pod a listener id belongs to', () => {
    const pods = ['mc-gateway-abc-1', 'mc-gateway-abc-10', 'mc-gateway-abc'];
    expect(matchLeader('mc-gateway-abc-10-1', pods)).toBe('mc-gateway-abc-10');
    expect(matchLeader('mc-gateway-abc-1-7', pods)).toBe('mc-gateway-abc-1');
    expect(matchLeader('mc-gateway-abc', pods)).toBe('mc-gateway-abc');
    expect(matchLeader('other-1', pods)).toBeUndefined();
    // A cut application_name that is a prefix of one pod only.
    expect(matchLeader('mc-gateway-ab', ['mc-gateway-abc', 'x'])).toBe('mc-gateway-abc');
  });
});
