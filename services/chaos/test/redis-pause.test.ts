import { RedisServer } from '@matchcast/testkit';
import { Redis } from 'ioredis';
import { RedisPause } from '../src/redis-pause';

describe('RedisPause (real redis-server)', () => {
  const server = new RedisServer();
  beforeAll(() => server.start(), 30_000);
  afterAll(() => server.destroy());

  it('freezes every client for the planned time, connections open, then lets go', async () => {
    const client = new Redis(server.url);
    try {
      expect(await client.publish('c', 'before')).toBe(0);
      const pause = new RedisPause(server.url);
      await pause.pause(800);
      const started = Date.now();
      await client.publish('c', 'during');
      const blockedMs = Date.now() - started;
      expect(blockedMs).toBeGreaterThanOrEqual(600);
      await pause.waitForEnd();
      const again = Date.now();
      await client.publish('c', 'after');
      expect(Date.now() - again).toBeLessThan(200);
    } finally {
      client.disconnect();
    }
  });
});
