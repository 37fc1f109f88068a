/**
 * The presence publisher's start against a real Redis reached slowly (a first connect that takes
 * longer than the write interval, as on a loaded node): its first write waits for the connection.
 */
import { createServer, Socket, type Server } from 'node:net';
import { presenceKeys } from '@matchcast/protocol';
import { createLogger } from '@matchcast/runtime';
import { RedisServer, freePort, waitFor } from '@matchcast/testkit';
import { Redis } from 'ioredis';
import { PresencePublisher } from '../src/presence/publisher';

const CONNECT_DELAY_MS = 400;

/** A TCP proxy to Redis that holds each new connection this long before piping it through. */
async function slowProxy(target: number): Promise<{ port: number; server: Server }> {
  const port = await freePort();
  const server = createServer((client) => {
    client.pause();
    setTimeout(() => {
      const upstream = new Socket();
      upstream.connect(target, '127.0.0.1', () => {
        client.pipe(upstream).pipe(client);
        client.resume();
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    }, CONNECT_DELAY_MS);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { port, server };
}

describe('presence publisher', () => {
  let redis: RedisServer;
  let proxy: { port: number; server: Server };

  beforeAll(async () => {
    redis = await new RedisServer().start();
    proxy = await slowProxy(redis.port);
  }, 30_000);

  afterAll(async () => {
    proxy?.server.close();
    await redis?.stop();
  });

  // Before: the interval (here 50 ms) fired while the first connect was still under way, the
  // write failed ("Stream isn't writeable and enableOfflineQueue options is false") and a
  // warning with a stack was logged at the gateway's start.
  it('writes its first snapshot once connected, with no failed write while the first connect takes longer than an interval', async () => {
    const logger = createLogger('presence-test', 'silent');
    const warn = jest.spyOn(logger, 'warn');
    const publisher = new PresencePublisher({ gatewayId: 'gw-slow', redisUrl: `redis://127.0.0.1:${proxy.port}`, intervalMs: 50, commandTimeoutMs: 2000 }, () => [], logger);
    const reader = new Redis(redis.url);
    try {
      publisher.start();
      await waitFor('the first snapshot in Redis', async () => ((await reader.exists(presenceKeys('gw-slow').meta)) === 1 ? true : undefined), 5000, 20);
      expect(warn).not.toHaveBeenCalled();
    } finally {
      await publisher.close();
      reader.disconnect();
    }
  });
});
