/**
 * Announcements end to end, every part a real process: the API (admin writes), the notifier
 * (timed publishing and expiry, leader only), Postgres → notify-listener → Redis → gateway → a
 * WebSocket client subscribed to the targeted channel. Each change arrives once, in order, on
 * the channels its target routes to and no other; timed ones within about two seconds; urgent
 * ones notify the followers once.
 */
import { mintToken } from '@matchcast/auth';
import { TestClient } from '../../services/gateway/test/support';
import { GatewayProcess, Infra, ServiceProcess, freePort, waitFor } from '../harness/stack';

const SECRET = 'announcements-e2e-secret-0123456789abcdefghij';

describe('announcements in real time', () => {
  const infra = new Infra();
  const services: ServiceProcess[] = [];
  const clients: TestClient[] = [];
  let gateway: GatewayProcess;
  let api: string;
  let root: string;

  const call = async (method: string, path: string, json?: unknown) => {
    const response = await fetch(api + path, {
      method,
      headers: { authorization: `Bearer ${root}`, ...(json === undefined ? {} : { 'content-type': 'application/json' }) },
      body: json === undefined ? undefined : JSON.stringify(json),
    });
    return { status: response.status, body: (await response.json()) as any };
  };
  const connect = async (channels: string[], extra: Record<string, unknown> = {}): Promise<TestClient> => {
    const client = new TestClient(`${gateway.wsUrl}?token=${await mintToken(SECRET, { subject: 'fan', ttlSeconds: 600 })}`);
    clients.push(client);
    await client.opened();
    client.send({ action: 'subscribe', channels, ...extra });
    await client.next((m) => m.type === 'subscribed');
    return client;
  };
  const about = (client: TestClient, id: string) => client.messages.filter((m) => m.type?.startsWith('announcement') && m.data?.id === id);
  const until = (client: TestClient, id: string, count: number, timeoutMs = 10_000) =>
    waitFor(`${count} messages about announcement ${id}`, async () => (about(client, id).length >= count ? true : undefined), timeoutMs);
  const base = { title: 'Kick-off delayed', message: 'Heavy rain: kick-off moves 30 minutes.', type: 'weather_alert' };

  beforeAll(async () => {
    await infra.start(true);
    await infra.db.query(`INSERT INTO league (id, name) VALUES ('epl', 'Premier League'), ('liga', 'La Liga');
      INSERT INTO team (id, league_id, name) VALUES ('ars', 'epl', 'Arsenal'), ('che', 'epl', 'Chelsea'), ('rma', 'liga', 'Real Madrid');
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('m1', 'epl', 'ars', 'che', now())`);
    const env = { DATABASE_URL: infra.postgres.url, REDIS_URL: infra.redis.url };
    const apiPort = await freePort();
    services.push(
      new ServiceProcess('notify-listener', { ...env, LISTENER_PORT: String(await freePort()) }, 'listener-announcements').start(),
      new ServiceProcess('api', { DATABASE_URL: infra.postgres.url, AUTH_JWT_SECRET: SECRET, HOST: '127.0.0.1', PORT: String(apiPort), OPS_PORT: String(await freePort()) }, 'api-announcements').start(),
      new ServiceProcess('notifier', { DATABASE_URL: infra.postgres.url, OPS_PORT: String(await freePort()), ANNOUNCEMENT_INTERVAL_MS: '200' }, 'notifier-announcements').start(),
    );
    gateway = new GatewayProcess(await freePort(), await freePort(), { ...env, AUTH_JWT_SECRET: SECRET }, 'gateway-announcements');
    services.push(gateway.start());
    await gateway.ready();
    await waitFor('gateway on the Redis path', async () => ((await gateway.mode()) === 'redis' ? true : undefined));
    api = `http://127.0.0.1:${apiPort}`;
    root = await mintToken(SECRET, { subject: 'root', roles: ['admin'], ttlSeconds: 600 });
    await waitFor('api up', async () => ((await fetch(`${api}/api/announcements?target=everyone`).catch(() => undefined))?.status === 200 ? true : undefined));
  });

  afterAll(async () => {
    for (const client of clients) client.ws.close();
    for (const service of services.reverse()) await service.stop();
    await infra.destroy();
  });

  it('publish, edit and withdraw reach a league subscriber in order, once, on league:<id> only', async () => {
    const league = await connect(['league:epl']);
    const other = await connect(['league:liga', 'team:rma']);
    const a = (await call('POST', '/api/announcements', { ...base, target: 'league', target_id: 'epl' })).body;
    await call('PATCH', `/api/announcements/${a.id}`, { priority: 'high' });
    await call('DELETE', `/api/announcements/${a.id}`);
    await until(league, a.id, 3);
    const received = about(league, a.id);
    expect(received.map((m) => [m.type, m.channel, m.stream])).toEqual([
      ['announcement', 'league:epl', 'league:epl'],
      ['announcement_updated', 'league:epl', 'league:epl'],
      ['announcement_expired', 'league:epl', 'league:epl'],
    ]);
    expect(received.map((m) => m.seq)).toEqual([received[0].seq, received[0].seq + 1, received[0].seq + 2]);
    expect(received.map((m) => [m.data.state, m.data.priority])).toEqual([['published', 'normal'], ['published', 'high'], ['expired', 'high']]);
    await new Promise((r) => setTimeout(r, 300));
    expect(about(league, a.id)).toHaveLength(3);
    expect(about(other, a.id)).toEqual([]);
  });

  it('routes by target: everyone → all only; team → team:<id> only; match → match, its teams, its league and all', async () => {
    const all = await connect(['all']);
    const team = await connect(['team:ars']);
    const match = await connect(['match:m1']);
    const live = await connect(['live:all']);
    const everyone = (await call('POST', '/api/announcements', { ...base, target: 'everyone' })).body;
    const forTeam = (await call('POST', '/api/announcements', { ...base, target: 'team', target_id: 'ars' })).body;
    const forMatch = (await call('POST', '/api/announcements', { ...base, target: 'match', target_id: 'm1' })).body;
    // Three streams: order holds within each, not across them (a stream's first event is read from the outbox).
    await until(all, everyone.id, 1);
    await until(all, forMatch.id, 1);
    await until(team, forTeam.id, 1);
    await until(team, forMatch.id, 1);
    await until(match, forMatch.id, 1);
    expect(about(all, everyone.id).map((m) => [m.type, m.channel, m.stream])).toEqual([['announcement', 'all', 'all']]);
    expect(about(team, forTeam.id).map((m) => [m.channel, m.stream])).toEqual([['team:ars', 'team:ars']]);
    expect(about(all, forTeam.id)).toEqual([]); // a team's own stream never reaches all
    expect(about(team, everyone.id)).toEqual([]);
    expect(about(match, everyone.id)).toEqual([]);
    expect(about(team, forMatch.id).map((m) => [m.channel, m.stream, m.match_id])).toEqual([['team:ars', 'match:m1', 'm1']]);
    expect(about(live, forMatch.id)).toEqual([]);
  });

  it('publishes at starts_at and expires at expires_at, within about two seconds, from the notifier', async () => {
    const team = await connect(['team:che']);
    const startsAt = Date.now() + 1500;
    const expiresAt = startsAt + 1500;
    const created = await call('POST', '/api/announcements', {
      ...base, target: 'team', target_id: 'che', starts_at: new Date(startsAt).toISOString(), expires_at: new Date(expiresAt).toISOString(),
    });
    expect(created.body.state).toBe('scheduled');
    await until(team, created.body.id, 1);
    const published = Date.now();
    expect(about(team, created.body.id)[0].type).toBe('announcement');
    expect(published - startsAt).toBeGreaterThanOrEqual(0);
    expect(published - startsAt).toBeLessThan(2000);
    const listed = await call('GET', '/api/announcements?target=team&target_id=che');
    expect(listed.body.announcements.map((x: any) => x.id)).toEqual([created.body.id]);
    await until(team, created.body.id, 2);
    const expired = Date.now();
    expect(about(team, created.body.id).map((m) => m.type)).toEqual(['announcement', 'announcement_expired']);
    expect(expired - expiresAt).toBeGreaterThanOrEqual(0);
    expect(expired - expiresAt).toBeLessThan(2000);
    expect((await call('GET', '/api/announcements?target=team&target_id=che')).body.announcements).toEqual([]);
  });

  it('resumes a team stream: a client that was away gets what it missed, in order', async () => {
    const first = await connect(['team:ars']);
    const a = (await call('POST', '/api/announcements', { ...base, target: 'team', target_id: 'ars' })).body;
    await until(first, a.id, 1);
    const seq = about(first, a.id)[0].seq;
    first.ws.close();
    await call('PATCH', `/api/announcements/${a.id}`, { title: 'Kick-off delayed by an hour' });
    await call('DELETE', `/api/announcements/${a.id}`);
    const back = await connect(['team:ars'], { resume: { 'team:ars': seq } });
    await until(back, a.id, 2);
    expect(about(back, a.id).map((m) => [m.type, m.seq])).toEqual([['announcement_updated', seq + 1], ['announcement_expired', seq + 2]]);
  });

  it('an urgent announcement becomes a notification for each follower once, live on their user stream', async () => {
    await infra.db.query(`INSERT INTO follow (user_id, kind, target_id) VALUES ('f1', 'league', 'liga'), ('f2', 'team', 'rma')`);
    const mine = new TestClient(`${gateway.wsUrl}?token=${await mintToken(SECRET, { subject: 'f1', ttlSeconds: 600 })}`);
    clients.push(mine);
    await mine.opened();
    mine.send({ action: 'subscribe', channels: ['user:f1'] });
    await mine.next((m) => m.type === 'subscribed');
    const a = (await call('POST', '/api/announcements', { ...base, type: 'emergency', priority: 'urgent', target: 'league', target_id: 'liga' })).body;
    await call('PATCH', `/api/announcements/${a.id}`, { message: 'Updated' });
    const note = await mine.next((m) => m.type === 'notification' && m.data.data?.announcement_id === a.id);
    expect(note.data).toMatchObject({ type: 'announcement', priority: 'urgent', league_id: 'liga', title: base.title });
    const count = async (user: string) =>
      (await infra.db.query(`SELECT count(*)::int AS n FROM notification WHERE user_id = $1 AND source_key = $2`, [user, `announcement:${a.id}`])).rows[0].n;
    expect([await count('f1'), await count('f2'), await count('fan')]).toEqual([1, 0, 0]);
  });
});
