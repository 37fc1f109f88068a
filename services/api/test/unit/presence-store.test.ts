/**
 * A read of Redis that fails part-way (a command timed out) is 503 UNAVAILABLE: it was answered
 * 200 with the gateways whose replies failed left out, as if they were not there. Redis refusing a
 * command (WRONGTYPE on a forged key) is a malformed entry: left out, the rest answered.
 */
import { ReplyError } from 'ioredis';
import { PresenceStore } from '../../src/store/presence';

/** A Redis with one live gateway, whose every pipelined command answers `reply` (an error, or a value). */
function fakeRedis(reply: [Error | null, unknown]) {
  const pipeline = () => {
    let queued = 0;
    const chain: Record<string, unknown> = { exec: async () => Array.from({ length: queued }, () => reply) };
    for (const command of ['get', 'hgetall', 'hget', 'strlen', 'hlen', 'hstrlen', 'memory']) chain[command] = () => (queued++, chain);
    return chain;
  };
  return { status: 'ready', zcard: async () => 1, memory: async () => 100, zrangebyscore: async () => ['gw-1'], pipeline, disconnect: () => undefined };
}

function storeWith(redis: unknown): PresenceStore {
  const store = new PresenceStore('redis://127.0.0.1:1', 100);
  (store as unknown as { redis: unknown }).redis = redis;
  return store;
}

describe('PresenceStore reading a snapshot that fails part-way', () => {
  it('answers UNAVAILABLE when a command of the read times out, not a view without that gateway', async () => {
    const store = storeWith(fakeRedis([new Error('Command timed out'), null]));
    await expect(store.channels(10, () => true)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(store.userConnections('alice', 10)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('leaves out an entry Redis refuses (a key of another type) and answers the rest', async () => {
    const store = storeWith(fakeRedis([new ReplyError('WRONGTYPE Operation against a key holding the wrong kind of value'), null]));
    await expect(store.channels(10, () => true)).resolves.toMatchObject({ gateways: [], channels: [] });
    await expect(store.userConnections('alice', 10)).resolves.toEqual({ connections: [], truncated: false });
  });

  // An ACL from before the sizes were asked (no ZCARD, MEMORY USAGE): it said Redis was not reachable.
  it('names a command the Redis user may not run, not "not reachable"', async () => {
    const refused = new ReplyError("NOPERM this user has no permissions to run the 'zcard' command");
    const store = storeWith({ ...fakeRedis([null, null]), zcard: async () => Promise.reject(refused) });
    await expect(store.channels(10, () => true)).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/refused a command presence needs \(NOPERM .*zcard.*ACL/) });
  });
});
