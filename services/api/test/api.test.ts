/**
 * The API against a real Postgres, running as a login user that is only a member of
 * matchcast_api: identity and tokens, the development sign-in, follows, and hostile HTTP
 * (every bad input a 4xx with a code, never a 500 or a crash). Notifications: notifications.test.ts.
 */
import { Agent, get, request } from 'node:http';
import { connect } from 'node:net';
import { createGzip, gzipSync } from 'node:zlib';
import { bareConnections, waitFor } from '@matchcast/testkit';
import type pg from 'pg';
import { MAX_FOLLOWS_PER_USER } from '../src/app';
import { apiEnv, call, handMadeToken, rawRequest, startDatabase, startTestApi, token, type PostgresServer } from './support';

describe('api', () => {
  let server: PostgresServer;
  let admin: pg.Pool;
  let api: Awaited<ReturnType<typeof startTestApi>>;
  let closedApi: Awaited<ReturnType<typeof startTestApi>>;
  let alice: string;
  let apiUrl: string;

  beforeAll(async () => {
    ({ server, admin, apiUrl } = await startDatabase());
    api = await startTestApi(apiUrl, { DEV_SIGN_IN: 'true', API_MAX_BODY_BYTES: '2048' });
    // A second instance as production runs it: no dev sign-in, an origin allow-list.
    closedApi = await startTestApi(apiUrl, { ALLOWED_ORIGINS: 'https://app.example' });
    alice = await token('alice');
  });

  afterAll(async () => {
    await api?.close();
    await closedApi?.close();
    await admin?.end();
    await server?.destroy();
  });

  describe('tokens', () => {
    it('GET /api/me answers the token subject and roles', async () => {
      expect(await call(api.url, 'GET', '/api/me', { token: alice })).toMatchObject({ status: 200, body: { user: 'alice', roles: [] } });
      const ops = await token('ops', ['admin', 'service']);
      expect((await call(api.url, 'GET', '/api/me', { token: ops })).body).toEqual({ user: 'ops', roles: ['admin', 'service'] });
    });

    it.each([
      ['no Authorization header', {}],
      ['a Basic header', { authorization: 'Basic YWxpY2U6cHc=' }],
      ['Bearer without a token', { authorization: 'Bearer ' }],
      ['a token that is not a JWT', { authorization: 'Bearer not-a-jwt' }],
      ['a token signed with another secret', { authorization: `Bearer ${handMadeToken({ sub: 'alice', exp: 4e9 }, 'another-secret-of-at-least-32-bytes!!')}` }],
      ['an alg none token', { authorization: `Bearer ${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"alice","exp":4000000000}').toString('base64url')}.` }],
      ['a token without exp', { authorization: `Bearer ${handMadeToken({ sub: 'alice' })}` }],
      ['a subject that is not a user id', { authorization: `Bearer ${handMadeToken({ sub: 'alice@example.com', exp: 4e9 })}` }],
    ])('refuses %s with 401 UNAUTHORIZED', async (_name, headers) => {
      const answer = await call(api.url, 'GET', '/api/me', { headers: headers as Record<string, string> });
      expect(answer.status).toBe(401);
      expect(answer.body.error).toBe('UNAUTHORIZED');
    });

    it('AUTH_REQUIRED=true leaves no anonymous caller: the public reads answer 401 without a token (they were 200), and as before with one', async () => {
      const required = await startTestApi(apiUrl, { AUTH_REQUIRED: 'true' });
      try {
        for (const path of ['/api/announcements?target=everyone', '/api/leagues/nope/table', '/api/leagues/nope/schedule', '/api/announcements/1']) {
          expect({ path, ...(await call(required.url, 'GET', path)) }).toMatchObject({ path, status: 401, body: { error: 'UNAUTHORIZED' } });
          expect({ path, status: (await call(required.url, 'GET', path, { token: alice })).status }).toEqual({ path, status: path.endsWith('everyone') ? 200 : 404 });
        }
      } finally {
        await required.close();
      }
    });

    it('refuses two Authorization headers with 400 BAD_REQUEST, on routes that need a token and on public ones: the first was taken silently', async () => {
      const ops = await token('ops', ['admin']);
      for (const path of ['/api/admin/channels', '/api/me', '/api/announcements?target=everyone']) {
        for (const [first, second] of [[`Bearer ${alice}`, `Bearer ${ops}`], [`Bearer ${ops}`, 'Bearer not-a-jwt']]) {
          const answer = await rawRequest(api.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: ${first}\r\nauthorization: ${second}\r\nConnection: close\r\n\r\n`);
          expect({ path, status: answer.split('\r\n')[0] }).toEqual({ path, status: 'HTTP/1.1 400 Bad Request' });
          expect(answer).toContain('"error":"BAD_REQUEST"');
        }
      }
      expect(await call(api.url, 'GET', '/api/me', { token: alice })).toMatchObject({ status: 200 });
    });

    it('refuses an expired token with 401 TOKEN_EXPIRED, and a query-string token as missing', async () => {
      const expired = handMadeToken({ sub: 'alice', exp: Math.floor(Date.now() / 1000) - 3600 });
      expect(await call(api.url, 'GET', '/api/me/follows', { token: expired })).toMatchObject({ status: 401, body: { error: 'TOKEN_EXPIRED' } });
      expect(await call(api.url, 'GET', `/api/me?token=${alice}`)).toMatchObject({ status: 401, body: { error: 'UNAUTHORIZED' } });
    });

    it('requires a token on every route but the development sign-in', async () => {
      const routes = [
        ['GET', '/api/me'],
        ['GET', '/api/me/follows'],
        ['PUT', '/api/me/follows/team/ars'],
        ['DELETE', '/api/me/follows/team/ars'],
        ['GET', '/api/notifications'],
        ['GET', '/api/notifications/unread-count'],
        ['PATCH', '/api/notifications/1/read'],
        ['POST', '/api/notifications/mark-all-read'],
        ['DELETE', '/api/notifications/1'],
        ['POST', '/api/notifications'],
      ];
      for (const [method, path] of routes) {
        const answer = await call(api.url, method!, path!);
        expect([method, path, answer.status, answer.body.error]).toEqual([method, path, 401, 'UNAUTHORIZED']);
      }
    });
  });

  describe('development sign-in', () => {
    it('mints a token the API accepts, with the roles asked for', async () => {
      const answer = await call(api.url, 'POST', '/api/dev/sign-in', { json: { user: 'bob', roles: ['service'] } });
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ token: expect.any(String), user: 'bob', roles: ['service'], expires_at: expect.any(String) });
      expect(Date.parse(answer.body.expires_at) - Date.now()).toBeGreaterThan(3_500_000);
      expect((await call(api.url, 'GET', '/api/me', { token: answer.body.token })).body).toEqual({ user: 'bob', roles: ['service'] });
      const plain = await call(api.url, 'POST', '/api/dev/sign-in', { json: { user: 'carol' } });
      expect(plain.body.roles).toEqual([]);
    });

    it('lists the demo users', async () => {
      const answer = await call(api.url, 'GET', '/api/dev/users');
      expect(answer.status).toBe(200);
      expect(answer.body.users.map((user: { id: string }) => user.id)).toEqual(['alice', 'bob', 'carol', 'organiser']);
      expect(answer.body.users.find((user: { id: string }) => user.id === 'organiser').roles).toEqual(['admin']);
    });

    it.each([
      [{}, 'user'],
      [{ user: 'a b' }, 'user'],
      [{ user: 42 }, 'user'],
      [{ user: 'bob', roles: 'admin' }, 'roles'],
      [{ user: 'bob', roles: ['Admin!'] }, 'roles'],
      [{ user: 'bob', roles: Array.from({ length: 9 }, (_, i) => `r${i}`) }, 'roles'],
      [{ user: 'bob', password: 'x' }, 'password'],
    ])('refuses %j with 400 VALIDATION_FAILED naming %s', async (body, field) => {
      const answer = await call(api.url, 'POST', '/api/dev/sign-in', { json: body });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe('VALIDATION_FAILED');
      expect(Object.keys(answer.body.fields)).toContain(field);
    });

    it('does not exist when DEV_SIGN_IN is off: 404 exactly like an unknown route', async () => {
      const signIn = await call(closedApi.url, 'POST', '/api/dev/sign-in', { json: { user: 'bob' } });
      const users = await call(closedApi.url, 'GET', '/api/dev/users');
      const unknown = await call(closedApi.url, 'POST', '/api/dev/sign-out', { json: { user: 'bob' } });
      expect(signIn).toMatchObject({ status: 404, body: { error: 'NOT_FOUND' } });
      expect(signIn.body).toEqual(unknown.body);
      expect(users.body).toEqual(unknown.body);
    });

    it('refuses to start with DEV_SIGN_IN=true and no AUTH_JWT_SECRET', () => {
      const { loadConfig } = require('../src/config') as typeof import('../src/config');
      const { EnvReader } = require('@matchcast/runtime') as typeof import('@matchcast/runtime');
      const env = apiEnv('postgres://x@h/db', { DEV_SIGN_IN: 'true' });
      delete (env as Partial<typeof env>).AUTH_JWT_SECRET;
      expect(() => loadConfig(new EnvReader(env))).toThrow(/DEV_SIGN_IN needs AUTH_JWT_SECRET/);
    });
  });

  describe('follows', () => {
    it('follows a team, a league and a match (201, then 200: idempotent) and lists them with names', async () => {
      const first = await call(api.url, 'PUT', '/api/me/follows/team/ars', { token: alice });
      expect(first.status).toBe(201);
      expect(first.body).toEqual({ kind: 'team', id: 'ars', name: 'Arsenal', created_at: expect.any(String) });
      const again = await call(api.url, 'PUT', '/api/me/follows/team/ars', { token: alice });
      expect(again).toMatchObject({ status: 200, body: first.body });
      expect((await call(api.url, 'PUT', '/api/me/follows/league/epl', { token: alice })).status).toBe(201);
      expect((await call(api.url, 'PUT', '/api/me/follows/match/m1', { token: alice })).body.name).toBe('Arsenal vs Chelsea');
      const list = await call(api.url, 'GET', '/api/me/follows', { token: alice });
      expect(list.status).toBe(200);
      expect(list.body.follows.map((f: { kind: string; id: string; name: string }) => [f.kind, f.id, f.name]).sort()).toEqual([
        ['league', 'epl', 'Premier League'],
        ['match', 'm1', 'Arsenal vs Chelsea'],
        ['team', 'ars', 'Arsenal'],
      ]);
      const { rows } = await admin.query(`SELECT kind, target_id FROM follow WHERE user_id = 'alice' ORDER BY kind`);
      expect(rows).toEqual([
        { kind: 'league', target_id: 'epl' },
        { kind: 'match', target_id: 'm1' },
        { kind: 'team', target_id: 'ars' },
      ]);
    });

    it('is per user: bob sees none of alice\'s follows', async () => {
      expect((await call(api.url, 'GET', '/api/me/follows', { token: await token('bob') })).body).toEqual({ follows: [] });
    });

    it('unfollows with 204, idempotently', async () => {
      await call(api.url, 'PUT', '/api/me/follows/team/che', { token: alice });
      expect((await call(api.url, 'DELETE', '/api/me/follows/team/che', { token: alice })).status).toBe(204);
      expect((await call(api.url, 'DELETE', '/api/me/follows/team/che', { token: alice })).status).toBe(204);
      expect((await call(api.url, 'DELETE', '/api/me/follows/team/never-followed', { token: alice })).status).toBe(204);
      const list = await call(api.url, 'GET', '/api/me/follows', { token: alice });
      expect(list.body.follows.some((f: { id: string }) => f.id === 'che')).toBe(false);
    });

    it('answers 404 NOT_FOUND for a team, league or match that does not exist', async () => {
      for (const path of ['/api/me/follows/team/nope', '/api/me/follows/league/ars', '/api/me/follows/match/epl']) {
        expect(await call(api.url, 'PUT', path, { token: alice })).toMatchObject({ status: 404, body: { error: 'NOT_FOUND' } });
      }
    });

    it.each([
      ['PUT', '/api/me/follows/player/ars'],
      ['PUT', '/api/me/follows/user/bob'],
      ['PUT', '/api/me/follows/team/a%20b'],
      ['PUT', `/api/me/follows/team/${'a'.repeat(65)}`],
      ['PUT', '/api/me/follows/team/%E0%A4%A'],
      ['DELETE', '/api/me/follows/Team/ars'],
      ['DELETE', '/api/me/follows/team/a%2Fb'],
    ])('%s %s: 400 BAD_REQUEST', async (method, path) => {
      expect(await call(api.url, method, path, { token: alice })).toMatchObject({ status: 400, body: { error: 'BAD_REQUEST' } });
    });

    it(`caps follows at ${MAX_FOLLOWS_PER_USER} per user with 409 FOLLOW_LIMIT_REACHED`, async () => {
      await admin.query(`INSERT INTO follow (user_id, kind, target_id) SELECT 'fan', 'match', 'x' || i FROM generate_series(1, $1) i`, [MAX_FOLLOWS_PER_USER]);
      const fan = await token('fan');
      expect(await call(api.url, 'PUT', '/api/me/follows/team/ars', { token: fan })).toMatchObject({ status: 409, body: { error: 'FOLLOW_LIMIT_REACHED' } });
      await call(api.url, 'DELETE', '/api/me/follows/match/x1', { token: fan });
      expect((await call(api.url, 'PUT', '/api/me/follows/team/ars', { token: fan })).status).toBe(201);
      // Following again what is already followed is not refused at the cap.
      expect((await call(api.url, 'PUT', '/api/me/follows/team/ars', { token: fan })).status).toBe(200);
    });

    it('concurrent PUTs of one follow make one row and all succeed', async () => {
      const carol = await token('carol');
      const answers = await Promise.all(Array.from({ length: 8 }, () => call(api.url, 'PUT', '/api/me/follows/team/che', { token: carol })));
      expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
    });

    it.each([
      ['PUT /api/me/follows', 'follow', 'PUT', '/api/me/follows/team/ars', undefined],
      ['POST /api/notifications with a key', 'notification', 'POST', '/api/notifications', { user_id: 'lost', title: 't', message: 'm', type: 'x', idempotency_key: 'k' }],
    ])('%s: a connection lost inside its transaction is 503 UNAVAILABLE, the process lives on and the next request works', async (_name, table, method, path, json) => {
      const as = await token('lost', ['service']);
      const locker = await admin.connect();
      try {
        await locker.query(`BEGIN; LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
        const pending = call(api.url, method, path, { token: as, json });
        const waiting = `SELECT pid FROM pg_stat_activity WHERE application_name = 'matchcast-api' AND wait_event_type = 'Lock'`;
        for (let i = 0; i < 100 && (await admin.query(waiting)).rows.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
        expect((await admin.query(`SELECT count(pg_terminate_backend(pid))::int AS n FROM (${waiting}) w`)).rows[0].n).toBe(1);
        expect(await pending).toMatchObject({ status: 503, body: { error: 'UNAVAILABLE' } });
      } finally {
        await locker.query('ROLLBACK');
        locker.release();
      }
      expect((await call(api.url, method, path, { token: as, json })).status).toBe(201);
    });

    it('concurrent PUTs of different follows one below the cap add exactly one (the others 409), never going past it', async () => {
      await admin.query(`INSERT INTO team (id, league_id, name) SELECT 'cap' || i, 'epl', 'Cap ' || i FROM generate_series(1, 30) i`);
      const racer = await token('racer');
      for (let round = 0; round < 5; round++) {
        await admin.query(`DELETE FROM follow WHERE user_id = 'racer'`);
        await admin.query(`INSERT INTO follow (user_id, kind, target_id) SELECT 'racer', 'match', 'x' || i FROM generate_series(2, $1) i`, [MAX_FOLLOWS_PER_USER]);
        const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => call(api.url, 'PUT', `/api/me/follows/team/cap${i + 1}`, { token: racer })));
        const { rows } = await admin.query(`SELECT count(*)::int AS n FROM follow WHERE user_id = 'racer'`);
        expect([round, rows[0].n, answers.filter((a) => a.status === 201).length]).toEqual([round, MAX_FOLLOWS_PER_USER, 1]);
        expect(answers.every((a) => a.status === 201 || a.body.error === 'FOLLOW_LIMIT_REACHED')).toBe(true);
      }
    });
  });

  describe('hostile HTTP', () => {
    // Before: a connection trickling its headers (or sending nothing) lived 66-96 s, one trickling
    // its body 300 s, each a file descriptor under no cap; headers over 16 KiB got 400 BAD_REQUEST.
    it('cuts a slowloris connection within seconds with 408 REQUEST_TIMEOUT (keep-alive between requests stays), 431 for huge headers', async () => {
      const { connect } = await import('node:net');
      const begun = Date.now();
      const slow = connect(api.port, '127.0.0.1');
      let answer = '';
      slow.on('data', (chunk) => (answer += chunk.toString()));
      slow.on('error', () => undefined);
      slow.write('GET /api/me HTTP/1.1\r\nHost: x\r\nX-Pad: ');
      const trickle = setInterval(() => slow.write('a'), 1000);
      // A kept-alive connection idle between requests is under keepAliveTimeout (65 s), not the header timeout.
      const kept = connect(api.port, '127.0.0.1');
      let keptAnswer = '';
      kept.on('data', (chunk) => (keptAnswer += chunk.toString()));
      kept.write('GET /api/me HTTP/1.1\r\nHost: x\r\n\r\n');
      const closedAfter = await new Promise<number>((resolve) => slow.on('close', () => resolve(Date.now() - begun)));
      clearInterval(trickle);
      expect(closedAfter).toBeLessThan(13_000);
      expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 408 REQUEST_TIMEOUT');
      kept.write('GET /api/me HTTP/1.1\r\nHost: x\r\n\r\n');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(keptAnswer.match(/HTTP\/1\.1 401/g)).toHaveLength(2);
      kept.destroy();
      const big = await rawRequest(api.port, `GET /api/me HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
      expect(big.split('\r\n')[0]).toBe('HTTP/1.1 431 HEADERS_TOO_LARGE');
    }, 20_000);

    it('malformed JSON: 400 BAD_JSON', async () => {
      const answer = await call(api.url, 'POST', '/api/dev/sign-in', { raw: '{"user": "bob",', headers: { 'content-type': 'application/json' } });
      expect(answer).toMatchObject({ status: 400, body: { error: 'BAD_JSON', message: 'request body is not valid JSON' } });
    });

    it('a body that is JSON but not an object: 400 BAD_REQUEST', async () => {
      for (const raw of ['[1,2]', '"bob"', 'null']) {
        const answer = await call(api.url, 'POST', '/api/dev/sign-in', { raw, headers: { 'content-type': 'application/json' } });
        expect([raw, answer.status, answer.body.error]).toEqual([raw, 400, expect.stringMatching(/^BAD_(REQUEST|JSON)$/)]);
      }
    });

    it('a body of another type: 415 UNSUPPORTED_MEDIA_TYPE; a missing body: 400', async () => {
      const form = await call(api.url, 'POST', '/api/dev/sign-in', { raw: 'user=bob', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      expect(form).toMatchObject({ status: 415, body: { error: 'UNSUPPORTED_MEDIA_TYPE' } });
      const untyped = await call(api.url, 'POST', '/api/dev/sign-in', { raw: '{"user":"bob"}', headers: { 'content-type': 'text/plain' } });
      expect(untyped.status).toBe(415);
      const latin = await call(api.url, 'POST', '/api/dev/sign-in', { raw: '{"user":"bob"}', headers: { 'content-type': 'application/json; charset=koi8-r' } });
      // Before: "request body must be application/json", to a body sent as exactly that.
      expect(latin).toMatchObject({ status: 415, body: { error: 'UNSUPPORTED_MEDIA_TYPE', message: 'request body charset must be UTF-8' } });
      expect(await call(api.url, 'POST', '/api/dev/sign-in')).toMatchObject({ status: 400, body: { error: 'BAD_REQUEST' } });
    });

    it('a body over API_MAX_BODY_BYTES: 413 PAYLOAD_TOO_LARGE, and the server carries on', async () => {
      const answer = await call(api.url, 'POST', '/api/dev/sign-in', { json: { user: 'bob', pad: 'x'.repeat(4096) } });
      expect(answer).toMatchObject({ status: 413, body: { error: 'PAYLOAD_TOO_LARGE', message: 'request body exceeds the maximum size' } });
      expect((await call(api.url, 'GET', '/api/me', { token: alice })).status).toBe(200);
    });

    it('past API_MAX_CONNECTIONS a TCP connection is closed at accept and counted; a request already in flight is answered', async () => {
      const capped = await startTestApi(apiUrl, { API_MAX_CONNECTIONS: '20' });
      const inFlight = connect(capped.port, '127.0.0.1');
      let answer = '';
      inFlight.on('data', (chunk) => (answer += chunk.toString()));
      try {
        await new Promise((resolve) => inFlight.once('connect', resolve));
        inFlight.write(`GET /api/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${alice}\r\n`); // its headers not finished yet
        const flood = await bareConnections(capped.port, 40);
        await waitFor('the connections past the cap closed', async () => (flood.closedByServer() >= 21 ? true : undefined), 5000, 20);
        const metrics = await (await fetch(`${capped.opsUrl}/metrics`)).text();
        expect(Number(/^matchcast_api_sockets_dropped_total(?:\{[^}]*\})? (\d+)/m.exec(metrics)?.[1])).toBe(21);
        expect(flood.closedByServer()).toBe(21);
        inFlight.write('\r\n');
        await waitFor('the request in flight answered', async () => (answer.startsWith('HTTP/1.1 200') ? true : undefined), 5000, 20);
        await expect(fetch(`${capped.url}/api/me`)).rejects.toThrow(); // a newcomer, while full
        flood.destroy();
        await waitFor('a newcomer served', async () => ((await fetch(`${capped.url}/api/me`).then((r) => r.status, () => 0)) === 401 ? true : undefined), 5000, 50);
      } finally {
        inFlight.destroy();
        await capped.close();
      }
    });

    // Before: a connection idle after one request was held for the API's 65 s keep-alive however
    // full the port was: 5,000 of them (77 connects a second from one host) kept every other
    // client out, each closed at accept ('Empty reply from server').
    it('a port full of idle keep-alive connections closes them: a newcomer is served, not shut out for the keep-alive', async () => {
      const capped = await startTestApi(apiUrl, { API_MAX_CONNECTIONS: '20' });
      const agent = new Agent({ keepAlive: true, maxSockets: 20 });
      const idle = () =>
        new Promise<number>((resolve, reject) => {
          get(`${capped.url}/api/nothing-here`, { agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          }).on('error', reject);
        });
      try {
        expect(await Promise.all(Array.from({ length: 20 }, idle))).toEqual(Array(20).fill(404));
        expect(Object.values(agent.freeSockets).flat()).toHaveLength(20); // all kept open, idle
        await waitFor('a newcomer served', async () => ((await fetch(`${capped.url}/api/me`).then((r) => r.status, () => 0)) === 401 ? true : undefined), 5000, 50);
      } finally {
        agent.destroy();
        await capped.close();
      }
    });

    it('a Content-Length over API_MAX_BODY_BYTES is answered 413 at once, before the body, and the connection is closed soon after', async () => {
      // A client that goes on sending the body it announced, slowly.
      const upload = trickledRequest(
        api.port,
        'POST /api/dev/sign-in HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{"user":',
        () => 'x'.repeat(1024),
        50,
      );
      try {
        await expectCutWith413(upload, 2000);
        expect(upload.answeredAt - upload.started).toBeLessThan(1000);
      } finally {
        upload.stop();
      }
      expect((await call(api.url, 'GET', '/api/me', { token: alice })).status).toBe(200);
    });

    it('a chunked body that goes on past API_MAX_BODY_BYTES is answered 413 as soon as it passes it, and the connection is closed', async () => {
      // An endless body, 1 KiB every 50 ms: past the 2 KiB limit after the third chunk.
      const upload = trickledRequest(
        api.port,
        'POST /api/dev/sign-in HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
        kibChunk,
        50,
      );
      try {
        await expectCutWith413(upload, 3000);
      } finally {
        upload.stop();
      }
      // A chunked body within the limit is read as before.
      const small = await rawRequest(api.port, 'POST /api/dev/sign-in HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\ne\r\n{"user":"bob"}\r\n0\r\n\r\n');
      expect(small).toMatch(/^HTTP\/1\.1 200 /);
    });

    it.each([
      ['of type text/plain', 'text/plain', '', 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['in another charset', 'application/json; charset=koi8-r', '', 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['from an origin not allowed', 'application/json', 'Origin: https://evil.example\r\n', 403, 'ORIGIN_NOT_ALLOWED'],
    ])(
      'a chunked body %s is answered at once and the connection closed, not read on to the request timeout',
      async (_what, type, origin, status, code) => {
        const upload = trickledRequest(
          (origin ? closedApi : api).port,
          `POST /api/dev/sign-in HTTP/1.1\r\nHost: x\r\n${origin}Content-Type: ${type}\r\nTransfer-Encoding: chunked\r\n\r\n`,
          kibChunk,
          20,
        );
        try {
          expect(await Promise.race([upload.closed.then(() => true), new Promise((resolve) => setTimeout(() => resolve(false), 5000))])).toBe(true);
          expect(upload.answer).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
          expect(upload.answer).toMatch(/connection: close/i);
          expect(upload.answer).toContain(`"error":"${code}"`);
        } finally {
          upload.stop();
        }
      },
    );

    it('a compressed chunked body is answered 413 as soon as its inflated size passes API_MAX_BODY_BYTES, though few bytes were sent', async () => {
      const socket = connect(api.port, '127.0.0.1');
      let answer = '';
      socket.on('data', (chunk) => (answer += chunk.toString()));
      const closed = new Promise<boolean>((resolve) => socket.on('close', () => resolve(true)));
      socket.on('error', () => undefined);
      socket.write('POST /api/dev/sign-in HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n');
      // An endless gzip stream, flushed every 50 ms: 1 KiB of spaces each time, a few bytes sent.
      const gzip = createGzip();
      let sent = 0;
      gzip.on('data', (chunk: Buffer) => {
        sent += chunk.length;
        if (socket.writable) socket.write(Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]));
      });
      gzip.write('{"user":"bob","pad":"');
      const trickle = setInterval(() => gzip.write(' '.repeat(1024), () => gzip.flush()), 50);
      try {
        await waitFor('an answer', async () => (answer.includes('\r\n\r\n') ? true : undefined), 3000, 10);
        expect(answer).toMatch(/^HTTP\/1\.1 413 /);
        expect(answer).toContain('"error":"PAYLOAD_TOO_LARGE"');
        expect(sent).toBeLessThan(2048);
        expect(await Promise.race([closed, new Promise((resolve) => setTimeout(() => resolve(false), 5000))])).toBe(true);
      } finally {
        clearInterval(trickle);
        gzip.destroy();
        socket.destroy();
      }
      // A small one, chunked, is read as before.
      const small = gzipSync(Buffer.from('{"user":"bob"}'));
      const status = await new Promise<number | undefined>((resolve, reject) => {
        const upload = request(`${api.url}/api/dev/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } }, (res) => {
          res.resume();
          resolve(res.statusCode);
        });
        upload.on('error', reject);
        upload.write(small); // written before end(): sent chunked
        upload.end();
      });
      expect(status).toBe(200);
    });

    it('a compressed body is measured inflated (no gzip bomb); an unknown encoding is 415', async () => {
      const bomb = gzipSync(Buffer.from(`{"user":"bob","pad":"${' '.repeat(1_000_000)}"}`));
      expect(bomb.length).toBeLessThan(2048);
      const answer = await call(api.url, 'POST', '/api/dev/sign-in', { raw: bomb, headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } });
      expect(answer).toMatchObject({ status: 413, body: { error: 'PAYLOAD_TOO_LARGE' } });
      const small = gzipSync(Buffer.from('{"user":"bob"}'));
      expect((await call(api.url, 'POST', '/api/dev/sign-in', { raw: small, headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } })).status).toBe(200);
      const odd = await call(api.url, 'POST', '/api/dev/sign-in', { raw: '{"user":"bob"}', headers: { 'content-type': 'application/json', 'content-encoding': 'x-magic' } });
      expect(odd).toMatchObject({ status: 415, body: { error: 'UNSUPPORTED_MEDIA_TYPE', message: 'Content-Encoding must be gzip, deflate, br or absent' } });
    });

    it('unknown routes and methods: 404 NOT_FOUND with a code', async () => {
      for (const [method, path] of [['GET', '/api/nope'], ['GET', '/'], ['POST', '/api/me'], ['GET', '/api/notifications/mark-all-read'], ['GET', '/metrics']]) {
        const answer = await call(api.url, method!, path!, { token: alice });
        expect([method, path, answer.status, answer.body.error]).toEqual([method, path, 404, 'NOT_FOUND']);
      }
    });

    // Before: no answer at all, the socket closed (Node's default without a 'connect' listener).
    it('CONNECT: 404 NOT_FOUND with the coded body, and the server carries on', async () => {
      for (const target of ['127.0.0.1:80', '/api/me']) {
        const answer = await rawRequest(api.port, `CONNECT ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
        expect([target, answer.split('\r\n')[0]]).toEqual([target, 'HTTP/1.1 404 NOT_FOUND']);
        expect(answer).toContain('"error":"NOT_FOUND"');
      }
      expect((await call(api.url, 'GET', '/api/me', { token: alice })).status).toBe(200);
    });

    it('a request Node cannot parse: 400 with the coded body, and the server carries on', async () => {
      const answer = await rawRequest(api.port, 'GET /api/me HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n');
      expect(answer).toMatch(/^HTTP\/1.1 400/);
      expect(answer).toContain('"error":"BAD_REQUEST"');
      expect((await call(api.url, 'GET', '/api/me', { token: alice })).status).toBe(200);
    });

    it('answers are never cached', async () => {
      expect((await call(api.url, 'GET', '/api/me', { token: alice })).headers.get('cache-control')).toBe('no-store');
    });
  });

  describe('admin presence without Redis', () => {
    it('answers 503 UNAVAILABLE to an admin (REDIS_URL unset: presence lives only in Redis), 403 to anyone else', async () => {
      const root = await token('root', ['admin']);
      for (const path of ['/api/admin/channels', '/api/admin/users/alice/connections']) {
        expect(await call(api.url, 'GET', path, { token: root })).toMatchObject({ status: 503, body: { error: 'UNAVAILABLE' } });
        expect(await call(api.url, 'GET', path, { token: alice })).toMatchObject({ status: 403, body: { error: 'FORBIDDEN' } });
      }
      // Input is checked before Redis is needed.
      expect(await call(api.url, 'GET', '/api/admin/channels?limit=0', { token: root })).toMatchObject({ status: 400, body: { error: 'BAD_REQUEST' } });
    });
  });

  describe('CORS', () => {
    it('answers a preflight from an allowed origin with the methods the API uses', async () => {
      const answer = await call(closedApi.url, 'OPTIONS', '/api/me/follows/team/ars', {
        headers: { origin: 'https://app.example', 'access-control-request-method': 'PUT' },
      });
      expect(answer.status).toBe(204);
      expect(answer.headers.get('access-control-allow-origin')).toBe('https://app.example');
      expect(answer.headers.get('access-control-allow-methods')).toContain('PUT');
      expect(answer.headers.get('access-control-allow-headers')).toContain('Authorization');
    });

    it('refuses another origin with 403 ORIGIN_NOT_ALLOWED; a request without Origin passes', async () => {
      const answer = await call(closedApi.url, 'GET', '/api/me', { token: alice, headers: { origin: 'https://evil.example' } });
      expect(answer).toMatchObject({ status: 403, body: { error: 'ORIGIN_NOT_ALLOWED' } });
      expect((await call(closedApi.url, 'GET', '/api/me', { token: alice })).status).toBe(200);
    });
  });

  describe('ops port', () => {
    it('serves /healthz, /readyz (database up) and /metrics, apart from the API', async () => {
      expect(await call(api.opsUrl, 'GET', '/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
      expect(await call(api.opsUrl, 'GET', '/readyz')).toMatchObject({ status: 200, body: { status: 'ok', database: 'up' } });
      const metrics = await call(api.opsUrl, 'GET', '/metrics');
      expect(metrics.body).toContain('matchcast_api_requests_total{method="GET",route="/api/me",status="200"');
      expect(metrics.body).toContain('matchcast_api_errors_total{code="UNAUTHORIZED"');
      expect(metrics.body).toContain('matchcast_api_db_up 1');
      expect(metrics.body).not.toMatch(/route="\/api\/me\/follows\/team\/ars"/);
    });
  });

  describe('database role', () => {
    it('runs as a member of matchcast_api, which cannot write notifications or the outbox directly', async () => {
      const { Pool } = require('pg') as typeof import('pg');
      const url = new URL(server.url);
      url.username = 'matchcast_api_login';
      url.password = 'api-Pass_1';
      const pool = new Pool({ connectionString: url.toString(), max: 1 });
      try {
        const { rows } = await pool.query(`SELECT current_user AS user, pg_has_role('matchcast_api', 'member') AS member, rolsuper FROM pg_roles WHERE rolname = current_user`);
        expect(rows).toEqual([{ user: 'matchcast_api_login', member: true, rolsuper: false }]);
        await expect(pool.query(`INSERT INTO notification (user_id, title, message, type) VALUES ('a', 't', 'm', 'x')`)).rejects.toThrow(/permission denied/);
        await expect(pool.query(`UPDATE notification SET is_read = true`)).rejects.toThrow(/permission denied/);
        await expect(pool.query(`SELECT matchcast_append('user:a', 'x', 'x', NULL, '{}')`)).rejects.toThrow(/permission denied/);
        await expect(pool.query(`DELETE FROM outbox`)).rejects.toThrow(/permission denied/);
      } finally {
        await pool.end();
      }
    });
  });
});

/** One chunk of a chunked body: 1 KiB of spaces. */
const kibChunk = () => `400\r\n${' '.repeat(1024)}\r\n`;

/**
 * A raw request whose body goes on for ever: `head`, then `piece()` every `everyMs` while the
 * socket takes it. `answer` is what the server said so far, `answeredAt` when it began to;
 * `closed` resolves with when the server closed the connection; `stop()` ends the trickle and the socket.
 */
function trickledRequest(port: number, head: string, piece: () => string, everyMs: number) {
  const socket = connect(port, '127.0.0.1');
  let answer = '';
  let answeredAt = 0;
  socket.on('data', (chunk) => {
    answer += chunk.toString();
    answeredAt ||= Date.now();
  });
  const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now())));
  socket.on('error', () => undefined);
  const started = Date.now();
  socket.write(head);
  const trickle = setInterval(() => socket.writable && socket.write(piece()), everyMs);
  return {
    started,
    closed,
    get answer() {
      return answer;
    },
    get answeredAt() {
      return answeredAt;
    },
    stop() {
      clearInterval(trickle);
      socket.destroy();
    },
  };
}

/** A trickled upload answered within `answerMs` with 413 PAYLOAD_TOO_LARGE and `Connection: close`, and closed within 5 s of its start. */
async function expectCutWith413(upload: ReturnType<typeof trickledRequest>, answerMs: number): Promise<void> {
  await waitFor('an answer', async () => (upload.answer.includes('\r\n\r\n') ? true : undefined), answerMs, 10);
  expect(upload.answer).toMatch(/^HTTP\/1\.1 413 /);
  expect(upload.answer).toMatch(/connection: close/i);
  expect(upload.answer).toContain('"error":"PAYLOAD_TOO_LARGE"');
  expect((await upload.closed) - upload.started).toBeLessThan(5000);
}
