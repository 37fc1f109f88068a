/**
 * Canary streams (`canary:<gateway id>`) are internal: they travel the bus like every stream,
 * but no client may name them and routing sends them nowhere.
 */
import { InvalidBusMessage, ProtocolError, canaryStream, decodeNotification, isCanaryStream, parseChannel, routeEvent } from '@matchcast/protocol';

const CANARY = { id: '9', stream: 'canary:gw-1', seq: 4, type: 'canary', match_id: null, data: { token: 'abc' }, timestamp: '2024-05-01T10:00:00.123Z' };

describe('canary streams', () => {
  it('are named from a gateway id matching the id pattern', () => {
    expect(canaryStream('gw-1.pod_2')).toBe('canary:gw-1.pod_2');
    expect(isCanaryStream('canary:gw-1')).toBe(true);
    expect(isCanaryStream('match:canary')).toBe(false);
    expect(() => canaryStream('gw 1')).toThrow(ProtocolError);
    expect(() => canaryStream('')).toThrow(ProtocolError);
  });

  it.each(['canary:gw-1', 'canary:gw-1/live', 'canary:'])('cannot be subscribed to: %s is UNKNOWN_CHANNEL', (name) => {
    expect(() => parseChannel(name)).toThrow(expect.objectContaining({ code: 'UNKNOWN_CHANNEL' }));
  });

  it('decode on the bus like any event, and as references', () => {
    expect(decodeNotification(JSON.stringify(CANARY))).toEqual(CANARY);
    expect(decodeNotification(JSON.stringify({ ref: true, id: '9', stream: 'canary:gw-1', seq: 4 }))).toMatchObject({ ref: true });
  });

  it.each([
    ['a malformed gateway id', { stream: 'canary:gw 1' }],
    ['an empty gateway id', { stream: 'canary:' }],
    ['a topic suffix', { stream: 'canary:gw-1/live' }],
  ])('are refused on the bus with %s', (_what, overrides) => {
    expect(() => decodeNotification(JSON.stringify({ ...CANARY, ...overrides }))).toThrow(InvalidBusMessage);
  });

  it('route nowhere, whatever their data claims', () => {
    expect(routeEvent(CANARY)).toEqual([]);
    expect(routeEvent({ ...CANARY, data: { league: { id: 'l1' }, home_team: { id: 'h' }, status: 'live' } })).toEqual([]);
  });
});
