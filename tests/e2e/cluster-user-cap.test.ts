/**
 * WS_MAX_CONNECTIONS_PER_USER across the cluster, end to end: two (then three) real gateway
 * processes count a user's connections in one real Redis. The cap holds across gateways (at the
 * door and for a `refresh` that makes an anonymous connection a user's); a SIGKILLed gateway's
 * places free when their lease ends; Redis killed, connections are still admitted under each
 * process's own cap, at once, and nothing else breaks; Redis back, every gateway registers its
 * open connections again and the cluster-wide count holds again.
 */
import { statSync } from 'node:fs';
import { mintToken } from '@matchcast/auth';
import { Redis } from 'ioredis';
import { TestClient, attempt, refusal } from '../../services/gateway/test/support';
import { GatewayProcess, Infra, freePort, waitFor } from '../harness/stack';

const SECRET = 'cluster-user-cap-e2e-secret-0123456789ab';
const LEASE_MS = 1500;
const KEY = (user: string) => `matchcast:user-connections:${user}`;

describe('the per-user cap across gateways (Redis)', () => {
  const infra = new Infra();
  const gateways: GatewayProcess[] = [];
  const clients: TestClient[] = [];
  let redis: Redis;
  let env: Record<string, string>;

  const bearer = async (user: string) => ({ headers: { authorization: `Bearer ${await mintToken(SECRET, { subject: user, ttlSeconds: 600 })}` } });
  const connect = async (gateway: GatewayProcess, user?: string): Promise<TestClient> => {
    const client = new TestClient(gateway.wsUrl, user ? await bearer(user) : undefined);
    clients.push(client);
    await client.opened();
    return client;
  };
  const close = async (client: TestClient) => {
    client.ws.close();
    await client.closed;
  };
  const refused = async (gateway: GatewayProcess, user: string) => (await refusal(gateway.wsUrl, await bearer(user))).body?.error;
  const startGateway = async (id: string) => {
    const gateway = new GatewayProcess(await freePort(), await freePort(), { ...env, GATEWAY_ID: id }, `user-cap-${id}`);
    gateway.start();
    await gateway.ready(60_000);
    return gateway;
  };
  /** Places Redis holds for the user, live leases only. */
  const held = async (user: string) => redis.zcount(KEY(user), Date.now(), '+inf');

  beforeAll(async () => {
    await infra.start(true);
    env = {
      DATABASE_URL: infra.postgres.url,
      REDIS_URL: infra.redis.url,
      AUTH_JWT_SECRET: SECRET,
      WS_MAX_CONNECTIONS_PER_USER: '2',
      USER_CAP_LEASE_MS: String(LEASE_MS),
      CANARY_INTERVAL_MS: '0',
      PRESENCE_INTERVAL_MS: '0',
    };
    gateways.push(...(await Promise.all([startGateway('gw-a'), startGateway('gw-b')])));
    redis = new Redis(infra.redis.url, { maxRetriesPerRequest: 1, retryStrategy: () => 200 });
    redis.on('error', () => undefined);
  }, 120_000);

  afterAll(async () => {
    for (const client of clients) client.ws.terminate();
    redis?.disconnect();
    for (const gateway of gateways) await gateway.stop();
    await infra.destroy();
  }, 30_000);

  it('holds across gateways: one connection on each, the third refused on either, a closed one frees a place on the other', async () => {
    const [a, b] = gateways as [GatewayProcess, GatewayProcess];
    const onA = await connect(a, 'alice');
    await connect(b, 'alice');
    expect(await refused(a, 'alice')).toBe('TOO_MANY_CONNECTIONS');
    expect(await refused(b, 'alice')).toBe('TOO_MANY_CONNECTIONS');
    expect(await held('alice')).toBe(2);
    // Another user is not affected.
    await connect(b, 'bob');
    await close(onA);
    await waitFor('alice admitted on b once her connection on a closed', async () => ((await attempt(b.wsUrl, await bearer('alice'))) === 101 ? true : undefined), 5000, 50);
  });

  it('counts an anonymous connection that a refresh makes a user\'s against the cluster-wide cap', async () => {
    const [a, b] = gateways as [GatewayProcess, GatewayProcess];
    await connect(a, 'carol');
    await connect(b, 'carol');
    const anonymous = await connect(b);
    anonymous.send({ action: 'refresh', token: await mintToken(SECRET, { subject: 'carol', ttlSeconds: 600 }) });
    const answer = await anonymous.next((m) => m.type === 'refreshed' || m.type === 'error');
    expect(answer).toMatchObject({ type: 'error', code: 'TOO_MANY_CONNECTIONS' });
    expect(await held('carol')).toBe(2);
  });

  it('frees a SIGKILLed gateway\'s places when their lease ends, and no sooner than its renewals stop', async () => {
    const [a] = gateways as [GatewayProcess];
    const doomed = await startGateway('gw-doomed');
    gateways.push(doomed); // stopped after the suite even if this test fails before the kill
    await connect(doomed, 'dave');
    await connect(doomed, 'dave');
    // Held past a lease: the live gateway renews its places.
    await new Promise((resolve) => setTimeout(resolve, LEASE_MS * 1.5));
    expect(await refused(a, 'dave')).toBe('TOO_MANY_CONNECTIONS');
    const killedAt = Date.now();
    await doomed.kill();
    expect(await refused(a, 'dave')).toBe('TOO_MANY_CONNECTIONS');
    await waitFor('dave admitted once the killed gateway\'s leases ended', async () => ((await attempt(a.wsUrl, await bearer('dave'))) === 101 ? true : undefined), LEASE_MS * 4, 50);
    expect(Date.now() - killedAt).toBeLessThan(LEASE_MS * 3);
  }, 30_000);

  it('Redis frozen (SIGSTOP): admitted within USER_CAP_REDIS_TIMEOUT_MS on the gateway\'s own count, reconnected past a renewal, counted again once it thaws', async () => {
    const [a, b] = gateways as [GatewayProcess, GatewayProcess];
    await connect(a, 'gina');
    const logFrom = statSync(b.logFile).size;
    infra.redis.signal('SIGSTOP');
    try {
      const started = Date.now();
      const onB = await connect(b, 'gina');
      await connect(b, 'gina');
      // Two upgrades, each waiting at most the 50 ms timeout (a loaded machine adds its own delay).
      expect(Date.now() - started).toBeLessThan(1000);
      expect(await refused(b, 'gina')).toBe('TOO_MANY_CONNECTIONS');
      // Frozen past a renewal: b drops its Redis connection (what waits on it would pile up) and
      // decides at once from then on.
      await waitFor('b to give up on the frozen Redis', async () => (b.logLines(logFrom).some((line) => line.includes('reconnecting')) ? true : undefined), 10_000, 50);
      const quick = Date.now();
      await close(await connect(b, 'hank'));
      expect(Date.now() - quick).toBeLessThan(1000);
      infra.redis.signal('SIGCONT');
      // The takes that waited in the frozen Redis ran when it thawed (the second refused there, gina
      // being at the cap by then, and registered all the same: it is open): all three count.
      await waitFor('gina\'s three open connections counted after the thaw', async () => ((await held('gina')) === 3 ? true : undefined), 10_000, 20);
      // Only the cluster-wide count refuses now: b has one of gina's left.
      await close(onB);
      await waitFor('gina\'s place on b released', async () => ((await held('gina')) === 2 ? true : undefined), 5000, 20);
      expect(await refused(b, 'gina')).toBe('TOO_MANY_CONNECTIONS');
    } finally {
      infra.redis.signal('SIGCONT');
    }
  }, 30_000);

  it('Redis killed: admitted at once under each gateway\'s own cap, subscriptions still answered; Redis back: the open connections count again', async () => {
    const [a, b] = gateways as [GatewayProcess, GatewayProcess];
    await connect(a, 'erin');
    await connect(a, 'erin');
    expect(await refused(b, 'erin')).toBe('TOO_MANY_CONNECTIONS');
    await infra.redis.kill();

    // On b, erin has no connection of its own: admitted (twice, its own cap), without waiting on Redis.
    const started = Date.now();
    const onB = [await connect(b, 'erin'), await connect(b, 'erin')];
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await refused(b, 'erin')).toBe('TOO_MANY_CONNECTIONS');
    expect(await refused(a, 'erin')).toBe('TOO_MANY_CONNECTIONS');
    // Nothing else breaks: others connect, subscribe, and the gateways stay ready.
    const other = await connect(b, 'frank');
    other.send({ action: 'subscribe', channels: ['all'] });
    await other.next((m) => m.type === 'subscribed');
    for (const gateway of [a, b]) expect((await gateway.readyz()).status).toBe(200);

    // Back, empty (no persistence): every gateway registers its open connections again.
    await infra.redis.start();
    await waitFor('erin\'s four open connections registered again', async () => ((await held('erin').catch(() => 0)) === 4 ? true : undefined), 15_000, 100);
    // Only the cluster-wide count refuses now: b has none of erin's left, a still has two.
    for (const client of onB) await close(client);
    await waitFor('erin\'s connections on b released', async () => ((await held('erin')) === 2 ? true : undefined), 5000, 50);
    expect(await refused(b, 'erin')).toBe('TOO_MANY_CONNECTIONS');
  }, 60_000);
});
