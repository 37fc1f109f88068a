/**
 * Who is listening, end to end: two real gateway processes write their presence snapshots to a
 * real Redis, the real API merges them for admins — channels with subscribers per transport,
 * a user's connections — and refuses everyone else and every malformed request with a stable
 * code. Redis away: 503 UNAVAILABLE, and back when it returns.
 */
import { readFileSync } from 'node:fs';
import { mintToken } from '@matchcast/auth';
import { PRESENCE_GATEWAYS_KEY, PRESENCE_MAX_CHANNELS, PRESENCE_MAX_CHANNELS_BYTES, PRESENCE_MAX_GATEWAYS_BYTES, presenceKeys } from '@matchcast/protocol';
import { Redis } from 'ioredis';
import { SseStream } from '../../services/gateway/test/sse-support';
import { TestClient } from '../../services/gateway/test/support';
import { GatewayProcess, Infra, ServiceProcess, freePort, waitFor } from '../harness/stack';

const SECRET = 'admin-presence-e2e-secret-0123456789abcdef';

describe('admin: who is listening', () => {
  const infra = new Infra();
  const services: ServiceProcess[] = [];
  const clients: TestClient[] = [];
  const streams: SseStream[] = [];
  const gateways: GatewayProcess[] = [];
  let redis: Redis;
  let api: string;
  let admin: string;

  const get = async (path: string, token: string | null = admin) => {
    const response = await fetch(api + path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: response.status, body: (await response.json().catch(() => undefined)) as any };
  };
  const connect = async (gateway: GatewayProcess, user: string | undefined, channels: string[]): Promise<TestClient> => {
    const query = user ? `?token=${await mintToken(SECRET, { subject: user, ttlSeconds: 600 })}` : '';
    const client = new TestClient(gateway.wsUrl + query);
    clients.push(client);
    await client.opened();
    client.send({ action: 'subscribe', channels });
    await client.next((m) => m.type === 'subscribed');
    return client;
  };
  /** Waits until the merged view satisfies `done` (snapshots are written every 300 ms here). */
  const channelsUntil = (what: string, done: (body: any) => boolean, path = '/api/admin/channels?limit=1000') =>
    waitFor(what, async () => {
      const { status, body } = await get(path);
      return status === 200 && done(body) ? body : undefined;
    }, 10_000);
  const channel = (body: any, name: string) => body.channels.find((c: any) => c.channel === name);

  beforeAll(async () => {
    await infra.start(true);
    await infra.db.query(`INSERT INTO league (id, name) VALUES ('epl', 'Premier League');
      INSERT INTO team (id, league_id, name) VALUES ('ars', 'epl', 'Arsenal'), ('che', 'epl', 'Chelsea');
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('m1', 'epl', 'ars', 'che', now())`);
    const env = { DATABASE_URL: infra.postgres.url, REDIS_URL: infra.redis.url, AUTH_JWT_SECRET: SECRET, PRESENCE_INTERVAL_MS: '300', CANARY_INTERVAL_MS: '0' };
    for (const id of ['gw-a', 'gw-b']) gateways.push(new GatewayProcess(await freePort(), await freePort(), { ...env, GATEWAY_ID: id }, `presence-${id}`));
    const apiPort = await freePort();
    services.push(
      new ServiceProcess(
        'api',
        { DATABASE_URL: infra.postgres.url, REDIS_URL: infra.redis.url, AUTH_JWT_SECRET: SECRET, HOST: '127.0.0.1', PORT: String(apiPort), OPS_PORT: String(await freePort()) },
        'api-presence',
      ).start(),
      ...gateways.map((gateway) => gateway.start()),
    );
    await Promise.all(gateways.map((gateway) => gateway.ready(60_000)));
    api = `http://127.0.0.1:${apiPort}`;
    admin = await mintToken(SECRET, { subject: 'root', roles: ['admin'], ttlSeconds: 600 });
    redis = new Redis(infra.redis.url);
    await waitFor('api up', async () => ((await fetch(`${api}/api/announcements?target=everyone`).catch(() => undefined))?.status === 200 ? true : undefined), 30_000);
  }, 120_000);

  afterAll(async () => {
    for (const client of clients) client.ws.close();
    for (const stream of streams) stream.close();
    redis?.disconnect();
    for (const service of services.reverse()) await service.stop();
    await infra.destroy();
  }, 30_000);

  it('starts writing without a failed write (it once wrote before its Redis connection was ready, and warned at every start)', () => {
    for (const gateway of gateways) expect(readFileSync(gateway.logFile, 'utf8')).not.toContain('presence snapshot not written');
  });

  it('merges every gateway: channels with subscribers per transport, busiest first, and connections per gateway', async () => {
    const [a, b] = gateways as [GatewayProcess, GatewayProcess];
    await connect(a, 'alice', ['match:m1', 'league:epl']);
    await connect(b, 'bob', ['match:m1']);
    await connect(a, undefined, ['all', 'match:m1/live']);
    const sse = new SseStream(`http://127.0.0.1:${b.port}/sse?channels=match:m1,team:ars&token=${await mintToken(SECRET, { subject: 'alice', ttlSeconds: 600 })}`);
    streams.push(sse);
    await sse.next((event) => event.event === 'subscribed' || event.json?.type === 'subscribed');

    const body = await channelsUntil('4 connections on 2 gateways', (view) => view.connections.total === 4 && channel(view, 'match:m1')?.subscribers === 3);
    expect(body.connections).toEqual({ ws: 3, sse: 1, total: 4 });
    expect(body.gateways.map((g: any) => [g.id, g.connections])).toEqual([
      ['gw-a', { ws: 2, sse: 0 }],
      ['gw-b', { ws: 1, sse: 1 }],
    ]);
    for (const gateway of body.gateways) expect(Date.now() - Date.parse(gateway.at)).toBeLessThan(5000);
    expect(body.channels[0]).toEqual({ channel: 'match:m1', subscribers: 3, ws: 2, sse: 1 });
    expect(channel(body, 'league:epl')).toEqual({ channel: 'league:epl', subscribers: 1, ws: 1, sse: 0 });
    expect(channel(body, 'team:ars')).toEqual({ channel: 'team:ars', subscribers: 1, ws: 0, sse: 1 });
    expect(channel(body, 'match:m1/live')).toEqual({ channel: 'match:m1/live', subscribers: 1, ws: 1, sse: 0 });
    expect(body.channel_count).toBe(5); // match:m1, match:m1/live, league:epl, team:ars, all
    expect(body.truncated).toBe(false);

    const top = await get('/api/admin/channels?limit=1');
    expect(top.body.channels).toEqual([{ channel: 'match:m1', subscribers: 3, ws: 2, sse: 1 }]);
    expect(top.body.truncated).toBe(true);
    const matches = await get('/api/admin/channels?kind=match');
    expect(matches.body.channels.map((c: any) => c.channel)).toEqual(['match:m1', 'match:m1/live']);
  });

  it("lists a user's open connections on every gateway, and follows them as they close", async () => {
    const { status, body } = await get('/api/admin/users/alice/connections');
    expect(status).toBe(200);
    expect(body.user_id).toBe('alice');
    expect(body.truncated).toBe(false);
    expect(body.connections.map((c: any) => [c.gateway, c.transport, c.channels]).sort()).toEqual([
      ['gw-a', 'ws', 2],
      ['gw-b', 'sse', 2],
    ]);
    for (const connection of body.connections) {
      expect(connection.connection_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(Date.now() - Date.parse(connection.since)).toBeLessThan(60_000);
    }
    expect((await get('/api/admin/users/nobody/connections')).body).toEqual({ user_id: 'nobody', connections: [], truncated: false });

    clients[0]!.ws.close(); // alice's WebSocket on gw-a
    await waitFor('alice down to her SSE stream', async () => {
      const { body: now } = await get('/api/admin/users/alice/connections');
      return now.connections.length === 1 && now.connections[0].transport === 'sse' ? true : undefined;
    }, 10_000);
  });

  it('refuses non-admins with the usual error shape, and every malformed or oversized request with a stable code', async () => {
    const fan = await mintToken(SECRET, { subject: 'alice', ttlSeconds: 600 });
    for (const path of ['/api/admin/channels', '/api/admin/users/alice/connections']) {
      expect(await get(path, fan)).toEqual({ status: 403, body: { error: 'FORBIDDEN', message: expect.stringContaining('admin') } });
      expect((await get(path, null)).body.error).toBe('UNAUTHORIZED');
      expect((await get(path, 'not-a-token')).body.error).toBe('UNAUTHORIZED');
    }
    const bad = [
      '/api/admin/users/bad%20id/connections',
      `/api/admin/users/${'u'.repeat(65)}/connections`,
      '/api/admin/users/..%2F..%2Fetc/connections',
      '/api/admin/channels?limit=0',
      '/api/admin/channels?limit=1001',
      '/api/admin/channels?limit=-1',
      '/api/admin/channels?limit=abc',
      '/api/admin/channels?limit=99999999999999999999',
      '/api/admin/channels?limit=1&limit=2',
      '/api/admin/channels?kind=bogus',
      `/api/admin/channels?kind=${'x'.repeat(8000)}`,
    ];
    for (const path of bad) {
      const { status, body } = await get(path);
      expect([path, status, body?.error]).toEqual([path, 400, 'BAD_REQUEST']);
    }
    // Far beyond any real request: refused (by the route, or by Node before it), and nothing breaks.
    for (const size of [20_000, 200_000]) expect([400, 431]).toContain((await get(`/api/admin/channels?kind=${'x'.repeat(size)}`)).status);
    expect((await get('/api/admin/channels')).status).toBe(200);
  });

  it('skips what does not decode in Redis (a forged gateway, malformed entries) and answers the rest', async () => {
    const forged = presenceKeys('forged');
    await redis
      .multi()
      .zadd(PRESENCE_GATEWAYS_KEY, Date.now() + 60_000, 'forged')
      .zadd(PRESENCE_GATEWAYS_KEY, Date.now() + 60_000, '../../x')
      .set(forged.meta, JSON.stringify({ at: Date.now(), connections: { ws: 1, sse: 0 }, channels: 3 }))
      .hset(forged.channels, { 'match:m1': '[1000,0]', 'not a channel': '[5,5]', 'match:m2': 'not json', 'match:m3': '[-1,2]' })
      .hset(forged.users, { alice: '[["x y","ws",1,1],["c1","carrier-pigeon",1,1],["c2","ws",1700000000000,2]]' })
      .exec();
    const { status, body } = await get('/api/admin/channels?limit=1000');
    expect(status).toBe(200);
    expect(channel(body, 'match:m1').subscribers).toBeGreaterThanOrEqual(1000);
    expect(body.channels.map((c: any) => c.channel)).not.toContain('not a channel');
    expect(body.channels.map((c: any) => c.channel)).not.toContain('match:m2');
    expect(body.channels.map((c: any) => c.channel)).not.toContain('match:m3');
    const alice = await get('/api/admin/users/alice/connections');
    expect(alice.body.connections.filter((c: any) => c.gateway === 'forged').map((c: any) => c.connection_id)).toEqual(['c2']);
    await redis.multi().zrem(PRESENCE_GATEWAYS_KEY, 'forged', '../../x').del(forged.meta, forged.channels, forged.users).exec();
  });

  it('reads no more of a snapshot than a gateway writes: a larger forged hash is skipped unread, a key of another type is absent', async () => {
    // A forged hash of 2,000,000 fields cost the API 3.7 s and 370 MB per admin request (HGETALL returns it all).
    const huge = presenceKeys('huge');
    const fields = new Map(Array.from({ length: PRESENCE_MAX_CHANNELS + 1 }, (_, i) => [`match:big${i}`, '[1,0]']));
    await redis
      .multi()
      .zadd(PRESENCE_GATEWAYS_KEY, Date.now() + 60_000, 'huge')
      .set(huge.meta, JSON.stringify({ at: Date.now(), connections: { ws: 1, sse: 0 }, channels: 1 }))
      .hset(huge.channels, fields)
      .set(huge.users, 'a string, not a hash')
      .exec();
    const { status, body } = await get('/api/admin/channels?limit=1000');
    expect(status).toBe(200);
    expect(body.gateways.map((g: any) => g.id)).toContain('huge');
    expect(channel(body, 'match:big0')).toBeUndefined();
    const alice = await get('/api/admin/users/alice/connections');
    expect(alice.status).toBe(200);
    expect(alice.body.connections.filter((c: any) => c.gateway === 'huge')).toEqual([]);
    await redis.multi().zrem(PRESENCE_GATEWAYS_KEY, 'huge').del(huge.meta, huge.channels, huge.users).exec();
  });

  it('reads no hash larger in bytes than a gateway writes, and no gateways set larger than gateways keep', async () => {
    // A field count bounds nothing: five forged fields of 40 MB each made one admin request cost
    // 480 MB, and four 60 MB gateway ids in the set 0.7 s and 200 MB a request.
    const fat = presenceKeys('fat');
    await redis
      .multi()
      .zadd(PRESENCE_GATEWAYS_KEY, Date.now() + 60_000, 'fat')
      .set(fat.meta, JSON.stringify({ at: Date.now(), connections: { ws: 1, sse: 0 }, channels: 1 }))
      .hset(fat.channels, { 'match:fat': '[7,0]', 'match:filler': 'x'.repeat(PRESENCE_MAX_CHANNELS_BYTES) })
      .exec();
    const { status, body } = await get('/api/admin/channels?limit=1000');
    expect(status).toBe(200);
    expect(body.gateways.map((g: any) => g.id)).toContain('fat');
    expect(channel(body, 'match:fat')).toBeUndefined();
    await redis.multi().zrem(PRESENCE_GATEWAYS_KEY, 'fat').del(fat.meta, fat.channels).exec();

    const longId = 'g'.repeat(PRESENCE_MAX_GATEWAYS_BYTES);
    await redis.zadd(PRESENCE_GATEWAYS_KEY, Date.now() + 60_000, longId);
    for (const path of ['/api/admin/channels', '/api/admin/users/alice/connections']) {
      const { status: refused, body: error } = await get(path);
      expect([refused, error.error, error.message]).toEqual([503, 'UNAVAILABLE', expect.stringContaining('larger than gateways write')]);
    }
    await redis.zrem(PRESENCE_GATEWAYS_KEY, longId);
    expect((await get('/api/admin/channels')).status).toBe(200);
  });

  it('a gateway that stops leaves the view at once; Redis away is 503 UNAVAILABLE until it returns', async () => {
    await gateways[1]!.stop();
    const body = await channelsUntil('gw-b gone', (view) => view.gateways.length === 1);
    expect(body.gateways.map((g: any) => g.id)).toEqual(['gw-a']);

    await infra.redis.stop();
    for (const path of ['/api/admin/channels', '/api/admin/users/alice/connections']) {
      const { status, body: error } = await get(path);
      expect([status, error.error]).toEqual([503, 'UNAVAILABLE']);
    }
    await infra.redis.start();
    await channelsUntil('presence back after Redis returns', (view) => view.gateways.some((g: any) => g.id === 'gw-a'));
  }, 60_000);
});
