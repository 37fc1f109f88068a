/**
 * The bus decoders: NOTIFY payloads, the listener's envelopes and its heartbeats. Nothing on the
 * bus is trusted, so every malformed field must end in InvalidBusMessage, never in a value that
 * reaches routing or sequencing.
 */
import { InvalidBusMessage, decodeForwarded, decodeHeartbeat, decodeNotification, isRef } from '@matchcast/protocol';

const EVENT = {
  id: '233',
  stream: 'match:m1',
  seq: 17,
  type: 'match_event',
  match_id: 'm1',
  data: { event: { type: 'goal', minute: 23 }, score: { home: 1, away: 0 } },
  timestamp: '2024-05-01T10:00:00.123Z',
};
const REF = { ref: true, id: '234', stream: 'match:m1', seq: 18 };
const HEARTBEAT = { listener_id: 'listener-a', sent_at: 1714557600123, published: 12, dropped: 0 };

const text = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));
const event = (overrides: Record<string, unknown>) => JSON.stringify({ ...EVENT, ...overrides });
const without = (object: Record<string, unknown>, key: string) => JSON.stringify(Object.fromEntries(Object.entries(object).filter(([k]) => k !== key)));
const envelope = (payload: unknown) => JSON.stringify({ channel: 'football_event_change', payload });

describe('decodeNotification: accepted', () => {
  it('an event, as the outbox trigger writes it (json_build_object spacing included)', () => {
    const fromPostgres =
      '{"id" : "233", "stream" : "match:m1", "seq" : 17, "type" : "match_event", "match_id" : "m1", ' +
      '"data" : {"event": {"type": "goal", "minute": 23}, "score": {"home": 1, "away": 0}}, "timestamp" : "2024-05-01T10:00:00.123Z"}';
    const decoded = decodeNotification(fromPostgres);
    expect(decoded).toEqual(EVENT);
    expect(isRef(decoded)).toBe(false);
  });

  it.each<[string, Record<string, unknown>]>([
    ['a user notification with match_id null', { stream: 'user:u1', type: 'notification', match_id: null, data: { message: 'hi' } }],
    ['a user notification about a match', { stream: 'user:u1', type: 'notification', match_id: 'm1' }],
    ['a league table on its league stream', { stream: 'league:l1', type: 'league_table', match_id: null, data: { rows: [] } }],
    ['an announcement on a team stream', { stream: 'team:ars', type: 'announcement', match_id: null, data: { id: '1' } }],
    ['an announcement to everyone on the all stream', { stream: 'all', type: 'announcement_expired', match_id: null, data: { id: '1' } }],
    ['seq 1', { seq: 1 }],
    ['the largest safe seq', { seq: Number.MAX_SAFE_INTEGER }],
    ['the largest bigint id', { id: '9223372036854775807' }],
    ['id 1', { id: '1' }],
    ['empty data', { data: {} }],
    ['other event types', { type: 'match_status' }],
    ['a timestamp with an offset and microseconds', { timestamp: '2024-05-01T12:00:00.123456+02:00' }],
    ['an id with every allowed character', { stream: 'match:Az09_.-', match_id: 'Az09_.-' }],
  ])('%s', (_case, overrides) => {
    expect(decodeNotification(event(overrides))).toEqual({ ...EVENT, ...overrides });
  });

  it('a reference to a large row: only ref, id, stream and seq are kept', () => {
    const decoded = decodeNotification(JSON.stringify({ ...REF, type: 'match_update', data: 'ignored' }));
    expect(decoded).toEqual(REF);
    expect(isRef(decoded)).toBe(true);
  });

  it('a reference on a user stream', () => {
    expect(decodeNotification(JSON.stringify({ ...REF, stream: 'user:u1' }))).toEqual({ ...REF, stream: 'user:u1' });
  });
});

describe('decodeNotification: rejected with InvalidBusMessage', () => {
  const rejects = (payload: unknown) => expect(() => decodeNotification(payload)).toThrow(InvalidBusMessage);

  it.each<[string, unknown]>([
    ['undefined', undefined],
    ['null', null],
    ['a number', 42],
    ['an object instead of its text', EVENT],
    ['a Buffer', Buffer.from(JSON.stringify(EVENT))],
  ])('a payload that is not a string: %s', (_case, payload) => rejects(payload));

  it.each(['', ' ', '{', 'not json', '{"id":"1",}', "{'id':'1'}", `${JSON.stringify(EVENT)}x`])('text that is not JSON: %j', (payload) =>
    rejects(payload),
  );

  it.each(['null', '[]', `[${JSON.stringify(EVENT)}]`, '42', '"233"', 'true', 'false'])('JSON that is not an object: %s', (payload) =>
    rejects(payload),
  );

  it.each<[string, unknown]>([
    ['a number', 233],
    ['empty', ''],
    ['zero', '0'],
    ['a leading zero', '0233'],
    ['negative', '-1'],
    ['fractional', '1.5'],
    ['letters', 'abc'],
    ['hex', '0x1f'],
    ['a space', ' 233'],
    ['20 digits', '12345678901234567890'],
    ['null', null],
  ])('id %s', (_case, id) => rejects(event({ id })));

  it('id missing', () => rejects(without(EVENT, 'id')));

  it.each<[string, unknown]>([
    ['a number', 1],
    ['empty', ''],
    ['live:all', 'live:all'],
    ['a kind without an id', 'match'],
    ['an empty id', 'match:'],
    ['an unknown kind', 'bogus:1'],
    ['an id with a space', 'match:a b'],
    ['an id longer than 64 characters', `match:${'x'.repeat(65)}`],
    ['null', null],
  ])('stream %s', (_case, stream) => rejects(event({ stream })));

  it('stream missing', () => rejects(without(EVENT, 'stream')));

  it.each<[string, unknown]>([
    ['0', 0],
    ['1.5', 1.5],
    ['-1', -1],
    ['a string', '17'],
    ['null', null],
    ['true', true],
    ['not a safe integer (2^53)', 2 ** 53],
    ['an object', { seq: 1 }],
  ])('seq %s', (_case, seq) => rejects(event({ seq })));

  it.each(['1e999', '-1e999', '9007199254740993', '1.0e400'])('seq written as %s in the JSON text', (seq) =>
    rejects(JSON.stringify(EVENT).replace('"seq":17', `"seq":${seq}`)),
  );

  it('seq missing', () => rejects(without(EVENT, 'seq')));

  it.each<[string, Record<string, unknown>]>([
    ['id 0', { id: '0' }],
    ['a non-stream', { stream: 'live:all' }],
    ['seq 0', { seq: 0 }],
    ['seq 1.5', { seq: 1.5 }],
  ])('a reference with %s', (_case, overrides) => rejects(JSON.stringify({ ...REF, ...overrides })));

  it('ref that is not exactly true is read as an event (and so needs its fields)', () => {
    rejects(JSON.stringify({ ...REF, ref: 'true' }));
    rejects(JSON.stringify({ ...REF, ref: 1 }));
  });

  it.each<[string, unknown]>([
    ['empty', ''],
    ['a number', 42],
    ['null', null],
    ['in capitals', 'Goal'],
    ['with a hyphen', 'match-event'],
    ['with a space', 'match event'],
  ])('type %s', (_case, type) => rejects(event({ type })));

  it('type missing', () => rejects(without(EVENT, 'type')));

  it.each<[string, unknown]>([
    ['not a date', 'yesterday'],
    ['empty', ''],
    ['epoch milliseconds as a number', 1714557600123],
    ['null', null],
    ['an impossible date', '2024-13-45T99:00:00Z'],
  ])('timestamp %s', (_case, timestamp) => rejects(event({ timestamp })));

  it('timestamp missing', () => rejects(without(EVENT, 'timestamp')));

  it.each<[string, unknown]>([
    ['null', null],
    ['a list', [{ score: 1 }]],
    ['a string', '{"score":1}'],
    ['a number', 42],
    ['true', true],
  ])('data %s', (_case, data) => rejects(event({ data })));

  it('data missing', () => rejects(without(EVENT, 'data')));

  it.each<[string, Record<string, unknown>]>([
    ['another match', { match_id: 'm2' }],
    ['null', { match_id: null }],
    ['empty', { match_id: '' }],
    ['a number', { stream: 'match:7', match_id: 7 }],
    ['in other case', { match_id: 'M1' }],
  ])('match_id inconsistent with the match stream: %s', (_case, overrides) => rejects(event(overrides)));

  it('match_id missing on a match stream', () => rejects(without(EVENT, 'match_id')));

  it.each<[string, unknown]>([
    ['empty', ''],
    ['a number', 7],
    ['with a space', 'm 1'],
    ['too long', 'x'.repeat(65)],
    ['an object', { id: 'm1' }],
  ])('match_id on a user stream that is not an id or null: %s', (_case, match_id) =>
    rejects(event({ stream: 'user:u1', type: 'notification', match_id })),
  );

  it('match_id missing on a user stream', () => rejects(without({ ...EVENT, stream: 'user:u1' }, 'match_id')));
});

describe('decodeForwarded', () => {
  it('opens the envelope and decodes the notification inside', () => {
    expect(decodeForwarded(envelope(JSON.stringify(EVENT)))).toEqual(EVENT);
    expect(decodeForwarded(envelope(JSON.stringify(REF)))).toEqual(REF);
  });

  it.each<[string, unknown]>([
    ['not a string', { channel: 'x', payload: JSON.stringify(EVENT) }],
    ['undefined', undefined],
    ['not JSON', 'envelope'],
    ['JSON null', 'null'],
    ['a list', `[${envelope(JSON.stringify(EVENT))}]`],
    ['a number', '42'],
    ['no payload', JSON.stringify({ channel: 'match_change' })],
    ['the event as an object instead of its text', envelope(EVENT)],
    ['payload null', envelope(null)],
    ['payload not JSON', envelope('{')],
    ['payload JSON null', envelope('null')],
    ['payload with a bad seq', envelope(event({ seq: 0 }))],
    ['payload with a bad stream', envelope(event({ stream: 'live:all' }))],
    ['payload with data not an object', envelope(event({ data: [] }))],
  ])('rejects %s', (_case, message) => {
    expect(() => decodeForwarded(message)).toThrow(InvalidBusMessage);
  });
});

describe('decodeHeartbeat', () => {
  it.each<[string, Record<string, unknown>]>([
    ['a heartbeat', {}],
    ['zero counts', { published: 0, dropped: 0 }],
    ['drops counted', { dropped: 3 }],
    ['a listener id of 200 characters', { listener_id: 'l'.repeat(200) }],
    ['a fractional sent_at', { sent_at: 1714557600123.5 }],
    ['the largest safe counts', { published: Number.MAX_SAFE_INTEGER, dropped: Number.MAX_SAFE_INTEGER }],
  ])('accepts %s', (_case, overrides) => {
    expect(decodeHeartbeat(JSON.stringify({ ...HEARTBEAT, ...overrides }))).toEqual({ ...HEARTBEAT, ...overrides });
  });

  const rejects = (message: unknown) => expect(() => decodeHeartbeat(message)).toThrow(InvalidBusMessage);

  it.each<[string, unknown]>([
    ['an object instead of its text', HEARTBEAT],
    ['undefined', undefined],
    ['not JSON', 'beat'],
    ['JSON null', 'null'],
    ['a list', `[${JSON.stringify(HEARTBEAT)}]`],
    ['a number', '1'],
  ])('rejects %s', (_case, message) => rejects(message));

  it.each<[string, unknown]>([
    ['empty', ''],
    ['a number', 7],
    ['null', null],
    ['longer than 200 characters', 'l'.repeat(201)],
  ])('rejects listener_id %s', (_case, listener_id) => rejects(JSON.stringify({ ...HEARTBEAT, listener_id })));

  it.each<[string, unknown]>([
    ['a string', '1714557600123'],
    ['null', null],
    ['true', true],
  ])('rejects sent_at %s', (_case, sent_at) => rejects(JSON.stringify({ ...HEARTBEAT, sent_at })));

  it('rejects an infinite sent_at (1e999 in the JSON text)', () => rejects(text(HEARTBEAT).replace('1714557600123', '1e999')));

  it.each<[string, unknown]>([
    ['-1', -1],
    ['1.5', 1.5],
    ['a string', '3'],
    ['null', null],
    ['not a safe integer', 2 ** 53],
  ])('rejects published or dropped %s', (_case, count) => {
    rejects(JSON.stringify({ ...HEARTBEAT, published: count }));
    rejects(JSON.stringify({ ...HEARTBEAT, dropped: count }));
  });

  it.each(['listener_id', 'sent_at', 'published', 'dropped'])('rejects a heartbeat without %s', (key) =>
    rejects(without(HEARTBEAT, key)),
  );
});
