import { createLogger } from '@matchcast/runtime';
import { ANONYMOUS, TokenVerifier, mintToken } from '@matchcast/auth';
import { Fanout } from '../../src/delivery/fanout';
import { SubscriptionRegistry } from '../../src/delivery/registry';
import { PurchaseOwners } from '../../src/sessions/purchase-owners';
import { Sessions, type Client } from '../../src/sessions/session';
import { FakeSubscriber, fakeMetrics, rethrow } from './fakes';

/** A reader over a fixed table that counts its queries. */
function reader(table: Record<string, string>) {
  const reads: string[][] = [];
  const read = async (ids: readonly string[]) => {
    reads.push([...ids]);
    return new Map(ids.filter((id) => id in table).map((id) => [id, table[id]!]));
  };
  return { reads, read };
}

describe('PurchaseOwners', () => {
  it('reads the missing buyers in one query, then answers from the cache without a wait', async () => {
    const { reads, read } = reader({ '1': 'alice', '2': 'bob' });
    const owners = new PurchaseOwners(read);
    expect(owners.known(['1', '2'])).toBeUndefined();
    expect([...(await owners.load(['1', '2', '1', 'x', '007']))]).toEqual([['1', 'alice'], ['2', 'bob']]);
    // Ids that cannot be a purchase are never read.
    expect(reads).toEqual([['1', '2']]);
    expect([...owners.known(['2', '1', 'x'])!]).toEqual([['2', 'bob'], ['1', 'alice']]);
    expect(reads).toHaveLength(1);
  });

  it('does not remember a purchase that was not found (it may be bought a moment later)', async () => {
    const table: Record<string, string> = {};
    const { reads, read } = reader(table);
    const owners = new PurchaseOwners(read);
    expect((await owners.load(['5'])).size).toBe(0);
    table['5'] = 'carol';
    expect(owners.known(['5'])).toBeUndefined();
    expect((await owners.load(['5'])).get('5')).toBe('carol');
    expect(reads).toEqual([['5'], ['5']]);
  });

  it('is bounded: the least recently used buyer goes first', async () => {
    const { reads, read } = reader({ '1': 'a', '2': 'b', '3': 'c' });
    const owners = new PurchaseOwners(read, 2);
    await owners.load(['1', '2']);
    owners.known(['1']); // 1 is now newer than 2
    await owners.load(['3']);
    expect(owners.known(['1', '3'])).toBeDefined();
    expect(owners.known(['2'])).toBeUndefined();
    expect(reads).toEqual([['1', '2'], ['3']]);
  });
});

describe('Sessions: purchase channels', () => {
  class FakeClient extends FakeSubscriber implements Client {
    identity = ANONYMOUS;
  }
  const SECRET = 'a-unit-test-secret-that-is-32-bytes-long';

  function setup() {
    const registry = new SubscriptionRegistry();
    void new Fanout(registry, fakeMetrics('delivered', 'commitToSendSeconds'), rethrow);
    const { reads, read } = reader({ '17': 'alice' });
    const sessions = new Sessions(
      registry,
      { lastSeq: () => 0, known: async () => undefined },
      { replay: async () => undefined, changedSince: async () => [] },
      new TokenVerifier({ jwtSecret: SECRET, keys: undefined, jwksUrl: undefined, issuer: undefined, audience: undefined, clockToleranceMs: 0, rolesClaim: 'roles', requireToken: false }),
      { maxChannels: 10, maxReplayEvents: 1000, historyRetentionMs: 3_600_000 },
      fakeMetrics('clientErrors', 'replays'),
      createLogger('test', 'silent'),
      new PurchaseOwners(read),
    );
    const client = (userId: string, roles: string[] = []) => {
      const c = new FakeClient(userId);
      c.identity = { userId, roles: new Set(roles), expiresAtMs: undefined };
      sessions.open(c);
      return c;
    };
    return { sessions, reads, client };
  }
  const subscribe = (channels: string[]) => ({ action: 'subscribe' as const, channels, resume: new Map<string, number>() });

  it('looks the buyer up once per subscribe, and not at all once it is known or for an admin', async () => {
    const { sessions, reads, client } = setup();
    const tab1 = client('alice');
    await sessions.subscribe(tab1, subscribe(['purchase:17', 'match:1']));
    expect([...tab1.channels]).toEqual(['purchase:17', 'match:1']);
    await sessions.subscribe(client('alice'), subscribe(['purchase:17']));
    await sessions.subscribe(client('ops', ['admin']), subscribe(['purchase:17', 'purchase:99']));
    await sessions.subscribe(client('bob'), subscribe(['match:2']));
    expect(reads).toEqual([['17']]);
    const bob = client('bob');
    await expect(sessions.subscribe(bob, subscribe(['match:3', 'purchase:17']))).rejects.toMatchObject({ code: 'FORBIDDEN_CHANNEL' });
    expect(bob.channels.size).toBe(0); // refused before anything changed
  });

  it('a refresh that drops the admin role drops the purchase channels that are not the user\'s', async () => {
    const { sessions, client } = setup();
    const ops = client('ops', ['admin']);
    await sessions.subscribe(ops, subscribe(['purchase:17', 'match:1']));
    await sessions.handle(ops, { action: 'refresh', token: await mintToken(SECRET, { subject: 'ops', roles: [], ttlSeconds: 600 }) });
    expect([...ops.channels]).toEqual(['match:1']);
    expect(ops.sent).toContainEqual({ type: 'unsubscribed', channels: ['purchase:17'] });
  });
});
