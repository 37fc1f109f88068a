/**
 * The Redis ACL the chart, k8s/ and docker-compose ship (charts/matchcast/files/redis-users.acl,
 * rendered by redis-start.sh exactly as in the Redis pod), loaded into a real redis-server:
 * each role may do what its service does and nothing else, and ioredis clients configured as
 * the notify-listener's publisher and the gateway's subscriber connect and work.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedisServer, waitFor } from '@matchcast/testkit';
import { PRESENCE_GATEWAYS_KEY, presenceKeys } from '@matchcast/protocol';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '@matchcast/runtime';
import { ClusterUserCount, userConnectionsKey } from '../../services/gateway/src/transport/cluster-user-count';
import { CHART } from './support/manifests';

const TEMPLATE = join(CHART, 'files', 'redis-users.acl');
const START = join(CHART, 'files', 'redis-start.sh');
const PASSWORDS = { REDIS_LISTENER_PASSWORD: 'listener-Pw_1', REDIS_GATEWAY_PASSWORD: 'gateway-Pw_2', REDIS_CHAOS_PASSWORD: 'chaos-Pw_3', REDIS_API_PASSWORD: 'api-Pw_4' };

function render(env: Record<string, string>, out: string) {
  return spawnSync('sh', [START, '--render-only'], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', REDIS_ACL_TEMPLATE: TEMPLATE, REDIS_ACL_FILE: out, ...env },
    encoding: 'utf8',
  });
}

/** The notify-listener publisher's options (services/notify-listener/src/publisher.ts). */
const listenerOptions = (): RedisOptions => ({
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  commandTimeout: 500,
  connectTimeout: 1000,
  keepAlive: 1000,
  connectionName: 'notify-listener-test',
  retryStrategy: () => null,
});

/** The gateway subscriber's options (services/gateway/src/brokers/redis-broker.ts). */
const gatewayOptions = (): RedisOptions => ({
  lazyConnect: true,
  connectTimeout: 1000,
  enableOfflineQueue: true,
  maxRetriesPerRequest: null,
  autoResubscribe: true,
  retryStrategy: () => null,
});

describe('Redis ACL (charts/matchcast/files/redis-users.acl)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'matchcast-acl-'));
  const aclFile = join(dir, 'users.acl');
  let server: RedisServer;
  const clients: Redis[] = [];
  const connect = (url: string, options: RedisOptions) => {
    const client = new Redis(url, options);
    client.on('error', () => undefined);
    clients.push(client);
    return client;
  };
  let listenerUrl: string;
  let gatewayUrl: string;
  let warn: jest.SpyInstance;

  beforeAll(async () => {
    const result = render(PASSWORDS, aclFile);
    if (result.status !== 0) throw new Error(`redis-start.sh --render-only failed: ${result.stderr}`);
    server = await new RedisServer({ aclFile }).start();
    listenerUrl = server.urlFor('matchcast-listener', PASSWORDS.REDIS_LISTENER_PASSWORD);
    gatewayUrl = server.urlFor('matchcast-gateway', PASSWORDS.REDIS_GATEWAY_PASSWORD);
    // ioredis warns on the console when its ready check (INFO) is refused: it must not be.
    warn = jest.spyOn(console, 'warn');
  });

  afterAll(async () => {
    warn?.mockRestore();
    await Promise.all(
      clients.map((client) =>
        client.status === 'end' ? undefined : new Promise<void>((resolve) => {
          client.once('end', () => resolve());
          client.disconnect();
        })),
    );
    await server?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('rendering', () => {
    it('substitutes the passwords, drops comments, and writes the file for the owner only', () => {
      const acl = readFileSync(aclFile, 'utf8');
      expect(acl).not.toMatch(/^#|\$\{/m);
      expect(acl).toContain(`user matchcast-listener on >${PASSWORDS.REDIS_LISTENER_PASSWORD} `);
      expect(acl.split('\n').filter(Boolean).map((line) => line.split(' ')[1])).toEqual([
        'default', 'matchcast-listener', 'matchcast-gateway', 'matchcast-api', 'matchcast-chaos', 'matchcast-probe',
      ]);
    });

    it('leaves out a user whose password is not given (the chaos user without chaos)', () => {
      const out = join(dir, 'no-chaos.acl');
      const { REDIS_CHAOS_PASSWORD: _omitted, ...rest } = PASSWORDS;
      expect(render(rest, out).status).toBe(0);
      expect(readFileSync(out, 'utf8')).not.toContain('matchcast-chaos');
    });

    it('refuses a password that cannot go into a URL or an ACL rule as is', () => {
      const result = render({ ...PASSWORDS, REDIS_GATEWAY_PASSWORD: 'has space' }, join(dir, 'bad.acl'));
      expect(result.status).not.toBe(0);
      expect(result.stderr).toContain('REDIS_GATEWAY_PASSWORD may only contain');
    });
  });

  describe('default user', () => {
    it('can do nothing without a password, not even PING', async () => {
      const client = connect(server.url, { lazyConnect: true, enableReadyCheck: false, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      await client.connect();
      for (const command of [['ping'], ['publish', 'pg_notify:events', 'x'], ['get', 'k'], ['flushall'], ['config', 'get', '*']]) {
        await expect(client.call(command[0]!, ...command.slice(1))).rejects.toThrow(/NOAUTH/);
      }
    });

    it('cannot log in with a password either (it is off)', async () => {
      const client = connect(server.url, { lazyConnect: true, enableReadyCheck: false, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      await client.connect();
      await expect(client.call('auth', 'anything')).rejects.toThrow(/WRONGPASS/);
    });
  });

  describe('notify-listener user', () => {
    let publisher: Redis;
    beforeAll(async () => {
      publisher = connect(listenerUrl, listenerOptions());
      await waitFor('the listener client to be ready', () => (publisher.status === 'ready' ? true : undefined), 5000, 20);
    });

    it('connects as the publisher does (AUTH, CLIENT SETNAME, INFO ready check) and PUBLISHes to pg_notify:*', async () => {
      await expect(publisher.publish('pg_notify:events', '{}')).resolves.toBe(0);
      await expect(publisher.publish('pg_notify:heartbeat', '{}')).resolves.toBe(0);
      await expect(publisher.ping()).resolves.toBe('PONG');
      await expect(publisher.client('GETNAME')).rejects.toThrow(/NOPERM/);
    });

    it('cannot publish elsewhere, subscribe, touch keys or administer the server', async () => {
      await expect(publisher.publish('other', 'x')).rejects.toThrow(/NOPERM/);
      await expect(publisher.get('k')).rejects.toThrow(/NOPERM/);
      await expect(publisher.set('k', 'v')).rejects.toThrow(/NOPERM/);
      await expect(publisher.keys('*')).rejects.toThrow(/NOPERM/);
      await expect(publisher.flushall()).rejects.toThrow(/NOPERM/);
      await expect(publisher.call('config', 'set', 'aclfile', '/tmp/x')).rejects.toThrow(/NOPERM/);
      await expect(publisher.call('acl', 'list')).rejects.toThrow(/NOPERM/);
      await expect(publisher.call('client', 'pause', '1000')).rejects.toThrow(/NOPERM/);
      const subscriber = connect(listenerUrl, { ...gatewayOptions() });
      await subscriber.connect();
      await expect(subscriber.subscribe('pg_notify:events')).rejects.toThrow(/NOPERM/);
    });
  });

  describe('gateway user', () => {
    it('subscribes as the gateway does and receives what the listener publishes', async () => {
      const subscriber = connect(gatewayUrl, gatewayOptions());
      const received: [string, string][] = [];
      subscriber.on('message', (channel: string, message: string) => received.push([channel, message]));
      await subscriber.connect();
      await subscriber.subscribe('pg_notify:events', 'pg_notify:heartbeat');
      const publisher = connect(listenerUrl, listenerOptions());
      await waitFor('the publisher', () => (publisher.status === 'ready' ? true : undefined), 5000, 20);
      await publisher.publish('pg_notify:events', 'e1');
      await publisher.publish('pg_notify:heartbeat', 'h1');
      await waitFor('both messages', () => (received.length === 2 ? true : undefined), 5000, 20);
      expect(received).toEqual([['pg_notify:events', 'e1'], ['pg_notify:heartbeat', 'h1']]);
    });

    it('writes its presence snapshot as the gateway does (MULTI of DEL, HSET, PEXPIRE, SET, ZADD, ZREMRANGEBYSCORE; ZREM), and the API user reads it', async () => {
      const keys = presenceKeys('gw-acl');
      const writer = connect(gatewayUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 500, lazyConnect: true });
      await writer.connect();
      const now = Date.now();
      await writer
        .multi()
        .del(keys.channels, keys.users)
        .hset(keys.channels, new Map([['match:m1', '[1,0]']]))
        .hset(keys.users, new Map([['alice', '[["c1","ws",1,1]]']]))
        .pexpire(keys.channels, 15_000)
        .pexpire(keys.users, 15_000)
        .set(keys.meta, '{}', 'PX', 15_000)
        .zadd(PRESENCE_GATEWAYS_KEY, now + 15_000, 'gw-acl')
        .zremrangebyscore(PRESENCE_GATEWAYS_KEY, '-inf', now)
        .exec();
      const reader = connect(server.urlFor('matchcast-api', PASSWORDS.REDIS_API_PASSWORD), { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
      await reader.connect();
      await expect(reader.zrangebyscore(PRESENCE_GATEWAYS_KEY, now, '+inf', 'LIMIT', 0, 200)).resolves.toEqual(['gw-acl']);
      const replies = await reader.pipeline().get(keys.meta).hgetall(keys.channels).hget(keys.users, 'alice').exec();
      expect(replies!.map(([error, value]) => [error, value])).toEqual([[null, '{}'], [null, { 'match:m1': '[1,0]' }], [null, '[["c1","ws",1,1]]']]);
      // Sizes first: the API reads no more than a gateway writes.
      const sizes = await reader.pipeline().strlen(keys.meta).hlen(keys.channels).hstrlen(keys.users, 'alice').zcard(PRESENCE_GATEWAYS_KEY).exec();
      expect(sizes!.map(([error, value]) => [error, value])).toEqual([[null, 2], [null, 1], [null, 17], [null, 1]]);
      const bytes = await reader.pipeline().memory('USAGE', keys.channels, 'SAMPLES', 0).memory('USAGE', PRESENCE_GATEWAYS_KEY, 'SAMPLES', 0).exec();
      expect(bytes!.map(([error, value]) => [error, value])).toEqual([[null, expect.any(Number)], [null, expect.any(Number)]]);
      await expect(reader.memory('USAGE', 'other')).rejects.toThrow(/NOPERM/);
      await expect(reader.memory('STATS')).rejects.toThrow(/NOPERM/);
      // The API may only read presence; the gateway may write nothing else.
      await expect(reader.set(keys.meta, 'x')).rejects.toThrow(/NOPERM/);
      await expect(reader.del(keys.meta)).rejects.toThrow(/NOPERM/);
      await expect(reader.get('other')).rejects.toThrow(/NOPERM/);
      await expect(reader.publish('pg_notify:events', 'x')).rejects.toThrow(/NOPERM/);
      await expect(writer.set('other', 'x')).rejects.toThrow(/NOPERM/);
      await expect(writer.hgetall(keys.channels)).rejects.toThrow(/NOPERM/);
      await writer.multi().del(keys.meta, keys.channels, keys.users).zrem(PRESENCE_GATEWAYS_KEY, 'gw-acl').exec();
    });

    it('counts users\' connections as the gateway does (its take and renew scripts, ZREM), on those keys only', async () => {
      const logger = { warn: jest.fn(), info: jest.fn(), error: jest.fn(), debug: jest.fn() } as unknown as Logger;
      const fallbacks = { inc: jest.fn() };
      const count = new ClusterUserCount({ redisUrl: gatewayUrl, gatewayId: 'gw-acl', maxPerUser: 2, leaseMs: 10_000, timeoutMs: 1000 }, { fallbacks }, logger);
      count.start();
      try {
        await waitFor('the count connected', () => (count.ready ? true : undefined), 5000, 20);
        // Taken in Redis, not on this process's count alone: the third is refused there.
        expect(await count.take('acl-user')).toEqual(expect.any(Function));
        expect(await count.take('acl-user')).toEqual(expect.any(Function));
        expect(await count.take('acl-user')).toBeUndefined();
        expect(await count.renew()).toBe(true);
        expect([fallbacks.inc.mock.calls.length, (logger.warn as jest.Mock).mock.calls]).toEqual([0, []]);
        const peer = connect(gatewayUrl, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
        await peer.connect();
        expect(await peer.zcard(userConnectionsKey('acl-user'))).toBe(2);
        await expect(peer.zcard('other')).rejects.toThrow(/NOPERM/);
      } finally {
        await count.close();
      }
    });

    it('cannot publish, subscribe outside pg_notify:*, touch other keys or administer the server', async () => {
      const client = connect(gatewayUrl, { ...gatewayOptions(), lazyConnect: false });
      await waitFor('the gateway client', () => (client.status === 'ready' ? true : undefined), 5000, 20);
      await expect(client.publish('pg_notify:events', 'forged')).rejects.toThrow(/NOPERM/);
      await expect(client.get('k')).rejects.toThrow(/NOPERM/);
      await expect(client.flushall()).rejects.toThrow(/NOPERM/);
      await expect(client.call('psubscribe', '*')).rejects.toThrow(/NOPERM/);
      await expect(client.subscribe('other')).rejects.toThrow(/NOPERM/);
    });
  });

  describe('chaos and probe users', () => {
    it('chaos may PING and CLIENT PAUSE (the freeze drill), nothing on the bus', async () => {
      const client = connect(server.urlFor('matchcast-chaos', PASSWORDS.REDIS_CHAOS_PASSWORD), { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 5000 });
      await client.connect();
      await expect(client.ping()).resolves.toBe('PONG');
      await expect(client.call('CLIENT', 'PAUSE', '1', 'ALL')).resolves.toBe('OK');
      await expect(client.publish('pg_notify:events', 'x')).rejects.toThrow(/NOPERM/);
      await expect(client.subscribe('pg_notify:events')).rejects.toThrow(/NOPERM/);
    });

    it('the probe user may PING without a password and do nothing else', async () => {
      const result = spawnSync('redis-cli', ['-p', String(server.port), '--no-auth-warning', '--user', 'matchcast-probe', '--pass', 'x', 'ping'], { encoding: 'utf8' });
      expect(result.stdout.trim()).toBe('PONG');
      const denied = spawnSync('redis-cli', ['-p', String(server.port), '--no-auth-warning', '--user', 'matchcast-probe', '--pass', 'x', 'publish', 'pg_notify:events', 'x'], { encoding: 'utf8' });
      expect(denied.stdout).toMatch(/NOPERM/);
    });
  });

  it('a wrong password is refused', async () => {
    const client = new Redis(server.urlFor('matchcast-gateway', 'wrong'), { ...gatewayOptions() });
    clients.push(client);
    const errors: string[] = [];
    client.on('error', (error: Error) => errors.push(error.message));
    await expect(client.connect()).rejects.toThrow();
    expect(errors.join()).toMatch(/WRONGPASS/);
  });

  it('no ioredis client warned about a refused ready check', () => {
    expect(warn.mock.calls.filter((args) => String(args[0]).includes('ready check'))).toEqual([]);
  });
});
