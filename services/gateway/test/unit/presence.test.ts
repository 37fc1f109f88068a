/**
 * A gateway's presence snapshot: counts by transport, channel and user in one pass, bounded
 * whatever the load (the busiest PRESENCE_MAX_CHANNELS channels, a user's newest connections).
 */
import { PRESENCE_MAX_CHANNELS, PRESENCE_MAX_USER_CONNECTIONS, decodeChannelCounts, decodePresenceMeta, decodeUserConnections } from '@matchcast/protocol';
import { takeSnapshot, type PresenceClient } from '../../src/presence/snapshot';

let next = 0;
function client(transport: 'ws' | 'sse', userId: string | undefined, channels: string[], connectedAt = 1_700_000_000_000): PresenceClient {
  return { id: `c-${next++}`, transport, connectedAt, channels: new Set(channels), identity: { userId } };
}

describe('takeSnapshot', () => {
  it('counts connections and channel subscribers per transport, and lists users’ connections', () => {
    const snapshot = takeSnapshot(
      [client('ws', 'alice', ['match:m1', 'league:epl']), client('sse', 'alice', ['match:m1'], 1_700_000_001_000), client('ws', undefined, ['all', 'match:m1'])],
      42,
    );
    expect(decodePresenceMeta(JSON.stringify(snapshot.meta))).toEqual({ at: 42, connections: { ws: 2, sse: 1 }, channels: 3 });
    expect(decodeChannelCounts('match:m1', snapshot.channels.get('match:m1'))).toEqual({ ws: 2, sse: 1 });
    expect(decodeChannelCounts('all', snapshot.channels.get('all'))).toEqual({ ws: 1, sse: 0 });
    expect([...snapshot.users.keys()]).toEqual(['alice']); // anonymous connections have no user entry
    const alice = decodeUserConnections(snapshot.users.get('alice'));
    expect(alice.map(([, transport, since, channels]) => [transport, since, channels])).toEqual([
      ['sse', 1_700_000_001_000, 1],
      ['ws', 1_700_000_000_000, 2],
    ]);
  });

  it('keeps the busiest channels only, and a user’s newest connections only', () => {
    const many = Array.from({ length: PRESENCE_MAX_CHANNELS + 500 }, (_, i) => `match:x${i}`);
    const clients = [client('ws', 'u1', many), client('ws', 'u2', ['match:hot']), client('sse', 'u3', ['match:hot'])];
    for (let i = 0; i < PRESENCE_MAX_USER_CONNECTIONS + 5; i++) clients.push(client('ws', 'busy', [], 1_700_000_000_000 + i));
    const snapshot = takeSnapshot(clients);
    expect(snapshot.meta.channels).toBe(PRESENCE_MAX_CHANNELS + 501);
    expect(snapshot.channels.size).toBe(PRESENCE_MAX_CHANNELS);
    expect(decodeChannelCounts('match:hot', snapshot.channels.get('match:hot'))).toEqual({ ws: 1, sse: 1 });
    const busy = decodeUserConnections(snapshot.users.get('busy'));
    expect(busy).toHaveLength(PRESENCE_MAX_USER_CONNECTIONS);
    expect(busy[0]![2]).toBe(1_700_000_000_000 + PRESENCE_MAX_USER_CONNECTIONS + 4);
  });
});
