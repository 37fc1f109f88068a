/**
 * One caller cannot hold every database connection of the API (http/caller-slots.ts): its
 * requests run at most half the pool at once, the rest wait in its own queue (429 RATE_LIMITED
 * after 5 s), and everyone else's requests are answered meanwhile. The caller's requests are made
 * slow the way a flood makes them: each waits on the caller's own follow lock, held here.
 */
import type pg from 'pg';
import { call, startDatabase, startTestApi, token, type PostgresServer } from './support';

/**
 * "At once": well under the API's 5 s wait for a pool connection, after which a request that got
 * none is 503 (what a starved bystander got before). A few ms on a quiet machine; the margin is for
 * a loaded one.
 */
const AT_ONCE_MS = 3000;

let server: PostgresServer;
let admin: pg.Pool;
let apiUrl: string;
beforeAll(async () => {
  ({ server, admin, apiUrl } = await startDatabase());
  const teams = Array.from({ length: 20 }, (_, i) => `('t${i}', 'epl', 'Team ${i}')`);
  await admin.query(`INSERT INTO team (id, league_id, name) VALUES ${teams.join(', ')}`);
});
afterAll(async () => {
  await admin?.end();
  await server?.destroy();
});

describe('requests of one caller', () => {
  it('hold at most half the pool: a bystander is answered at once while one account has 12 requests stuck on the database', async () => {
    const api = await startTestApi(apiUrl, { PG_POOL_MAX: '10' });
    const lock = await admin.connect();
    try {
      // What every PUT follow of mallory's takes first: held, each of them waits on the database.
      await lock.query(`SELECT pg_advisory_lock(hashtextextended('matchcast.follow:' || $1, 0))`, ['mallory']);
      const mallory = await token('mallory');
      const flood = Array.from({ length: 12 }, (_, i) => call(api.url, 'PUT', `/api/me/follows/team/t${i}`, { token: mallory }));
      await new Promise((resolve) => setTimeout(resolve, 300));

      const before = Date.now();
      const bystander = await call(api.url, 'GET', '/api/notifications/unread-count', { token: await token('alice') });
      expect(bystander).toMatchObject({ status: 200, body: { unread_count: 0 } });
      // Before: all 10 connections were mallory's, and alice waited for one until the lock went.
      expect(Date.now() - before).toBeLessThan(AT_ONCE_MS);
      // Anonymous public reads too.
      const anonymous = call(api.url, 'GET', '/api/announcements?target=everyone');
      const anonymousAsked = Date.now();
      expect((await anonymous).status).toBe(200);
      expect(Date.now() - anonymousAsked).toBeLessThan(AT_ONCE_MS);

      // The lock goes: mallory's 5 running and 7 waiting requests are all served, in turn.
      await lock.query('SELECT pg_advisory_unlock_all()');
      expect((await Promise.all(flood)).map((answer) => answer.status)).toEqual(Array(12).fill(201));
    } finally {
      await lock.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
      lock.release();
      await api.close();
    }
  });

  it('without a token, a caller is its address, and an IPv6 address\'s /64: 12 addresses of one /64 hold half the pool', async () => {
    const api = await startTestApi(apiUrl, { PG_POOL_MAX: '10', TRUSTED_PROXY_HOPS: '1' });
    const lock = await admin.connect();
    try {
      // Every read of a league waits while it is locked.
      await lock.query('BEGIN');
      await lock.query('LOCK TABLE league IN ACCESS EXCLUSIVE MODE');
      const flood = Array.from({ length: 12 }, (_, i) =>
        call(api.url, 'GET', '/api/leagues/epl/table', { headers: { 'x-forwarded-for': `2001:db8:0:1::${i + 1}` } }),
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      const before = Date.now();
      expect((await call(api.url, 'GET', '/api/notifications/unread-count', { token: await token('alice') })).status).toBe(200);
      // Before: 12 callers of their own, 10 running: alice waited for the lock to go.
      expect(Date.now() - before).toBeLessThan(AT_ONCE_MS);
      await lock.query('COMMIT');
      expect((await Promise.all(flood)).map((answer) => answer.status)).toEqual(Array(12).fill(200));
    } finally {
      await lock.query('ROLLBACK').catch(() => undefined);
      lock.release();
      await api.close();
    }
  });

  it('a request whose client left keeps its slot until it is answered: leaving at once and asking again runs no more at a time', async () => {
    const api = await startTestApi(apiUrl, { PG_POOL_MAX: '10' });
    const lock = await admin.connect();
    try {
      await lock.query(`SELECT pg_advisory_lock(hashtextextended('matchcast.follow:' || $1, 0))`, ['mallory']);
      const mallory = await token('mallory');
      // Four rounds of 5 requests, each given up 100 ms after it was sent (its query goes on waiting on the lock).
      for (let round = 0; round < 4; round++) {
        await Promise.all(
          Array.from({ length: 5 }, (_, i) =>
            fetch(`${api.url}/api/me/follows/team/t${round * 5 + i}`, { method: 'PUT', headers: { authorization: `Bearer ${mallory}` }, signal: AbortSignal.timeout(100) }).catch(() => undefined),
          ),
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      const before = Date.now();
      expect((await call(api.url, 'GET', '/api/notifications/unread-count', { token: await token('alice') })).status).toBe(200);
      // Released when the client left, each slot went to the next request: all 10 connections were mallory's.
      expect(Date.now() - before).toBeLessThan(AT_ONCE_MS);
    } finally {
      await lock.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
      lock.release();
      await api.close();
    }
  });
});
