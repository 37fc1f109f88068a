/**
 * ClusterUserCount against a real Redis: what a renewal does to a take still under way, and
 * places closed while the connection to Redis was cut.
 */
import { RedisServer, waitFor } from '@matchcast/testkit';
import { Redis } from 'ioredis';
import { TcpProxy } from '../../../tests/chaos/support/tcp-proxy';
import { ClusterUserCount, userConnectionsKey } from '../src/transport/cluster-user-count';

const silent = { warn: () => undefined, info: () => undefined, error: () => undefined, debug: () => undefined } as never;

describe('ClusterUserCount', () => {
  let server: RedisServer;
  let redis: Redis;
  let count: ClusterUserCount;

  beforeAll(async () => {
    server = await new RedisServer().start();
    redis = new Redis(server.url);
  }, 30_000);

  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  beforeEach(async () => {
    await redis.flushall();
    count = new ClusterUserCount({ redisUrl: server.url, gatewayId: 'gw-t', maxPerUser: 2, leaseMs: 60_000, timeoutMs: 2000 }, { fallbacks: { inc: () => undefined } }, silent);
    count.start();
    await waitFor('the count connected to Redis', async () => (count.ready ? true : undefined));
  });

  afterEach(async () => {
    await count.close();
  });

  it('a renewal sent while a take waits for its turn neither counts that take nor refuses a user under the cap', async () => {
    await expect(count.take('carol')).resolves.toBeDefined();
    // The second take waits for the turn's end (its batch); a renewal goes out before it.
    const second = count.take('carol');
    await count.renew();
    await expect(second).resolves.toBeDefined();
    expect(await redis.zcard(userConnectionsKey('carol'))).toBe(2);
  });

  it('a take refused at the cap leaves no place behind, even with a renewal sent before it', async () => {
    await count.take('dave');
    await count.take('dave');
    const third = count.take('dave');
    await count.renew();
    await expect(third).resolves.toBeUndefined();
    expect(await redis.zcard(userConnectionsKey('dave'))).toBe(2);
  });

  it('decides the takes of one turn in order, for the same user too, with expired leases no longer counted, and keeps the key as long as its leases', async () => {
    await redis.zadd(userConnectionsKey('erin'), Date.now() - 1000, 'gone-gateway:x:0');
    const answers = await Promise.all([count.take('erin'), count.take('erin'), count.take('erin'), count.take('frank')]);
    expect(answers.map((release) => release !== undefined)).toEqual([true, true, false, true]);
    expect(await redis.zcard(userConnectionsKey('erin'))).toBe(2);
    expect(await redis.pttl(userConnectionsKey('erin'))).toBeGreaterThan(50_000);
    answers[0]!();
    await waitFor('the released place gone', async () => ((await redis.zcard(userConnectionsKey('erin'))) === 1 ? true : undefined));
  });

  describe('with the connection to Redis cut (Redis keeps its data)', () => {
    let proxy: TcpProxy;
    let behind: ClusterUserCount;

    beforeEach(async () => {
      proxy = await new TcpProxy(server.port).start();
      // A lease far longer than the test: a place freed in time was removed, not expired.
      behind = new ClusterUserCount({ redisUrl: `redis://127.0.0.1:${proxy.port}`, gatewayId: 'gw-cut', maxPerUser: 2, leaseMs: 60_000, timeoutMs: 2000 }, { fallbacks: { inc: () => undefined } }, silent);
      behind.start();
      await waitFor('the count connected to Redis through the proxy', async () => (behind.ready ? true : undefined));
    });

    afterEach(async () => {
      await behind.close();
      await proxy.stop();
    });

    it('a user at the cap closes a connection while Redis is away: the place is free as soon as Redis is back, not a lease later', async () => {
      const first = await behind.take('ivy');
      await behind.take('ivy');
      expect(await count.take('ivy')).toBeUndefined(); // at the cap, across gateways
      proxy.refusing = true;
      proxy.cut();
      await waitFor('the count to see Redis gone', async () => (behind.ready ? undefined : true));
      first!();
      proxy.refusing = false;
      await waitFor('the count back on Redis', async () => (behind.ready ? true : undefined), 10_000);
      await waitFor('the closed place removed', async () => ((await redis.zcard(userConnectionsKey('ivy'))) === 1 ? true : undefined), 5000);
      await expect(count.take('ivy')).resolves.toBeDefined();
    });

    it('a removal lost with the connection is sent again once Redis is back', async () => {
      const first = await behind.take('jack');
      await behind.take('jack');
      proxy.latencyMs = 60_000; // the removal goes out, and never arrives
      first!();
      proxy.refusing = true;
      proxy.cut();
      await waitFor('the count to see Redis gone', async () => (behind.ready ? undefined : true));
      proxy.latencyMs = 0;
      proxy.refusing = false;
      await waitFor('the lost removal sent again', async () => ((await redis.zcard(userConnectionsKey('jack'))) === 1 ? true : undefined), 10_000);
      await expect(count.take('jack')).resolves.toBeDefined();
    });
  });
});
