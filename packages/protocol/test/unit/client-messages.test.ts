/** The client message parser: every error code it produces, and the forms it accepts. */
import { ProtocolError, parseClientMessage, type ErrorCode } from '@matchcast/protocol';

const LIMITS = { maxChannelsPerMessage: 5 };
const parse = (message: unknown, limits = LIMITS) =>
  parseClientMessage(typeof message === 'string' ? message : JSON.stringify(message), limits);

/** The code of the ProtocolError the parser throws for `message` (fails if it accepts it). */
function refusal(message: unknown, limits = LIMITS): ErrorCode {
  try {
    parse(message, limits);
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    return (error as ProtocolError).code;
  }
  throw new Error(`accepted ${typeof message === 'string' ? message : JSON.stringify(message)}`);
}

const subscribe = (channels: unknown, extra: Record<string, unknown> = {}) => ({ action: 'subscribe', channels, ...extra });

describe('parseClientMessage: refusals', () => {
  it.each(['', ' ', '{', 'not json', "{'action':'ping'}", '{"action":"ping",}', 'undefined', '{"action":"ping"} x'])(
    'BAD_JSON for %j',
    (text) => expect(refusal(text)).toBe('BAD_JSON'),
  );

  it.each(['null', '[]', '[{"action":"ping"}]', '42', '"subscribe"', 'true', 'false'])(
    'BAD_MESSAGE for JSON that is not an object: %s',
    (text) => expect(refusal(text)).toBe('BAD_MESSAGE'),
  );

  it.each<[string, unknown]>([
    ['subscribe without channels', { action: 'subscribe' }],
    ['subscribe with an empty list', subscribe([])],
    ['subscribe with a string for a list', subscribe('all')],
    ['subscribe with an object for a list', subscribe({ 0: 'all' })],
    ['subscribe with channels null', subscribe(null)],
    ['unsubscribe without channels', { action: 'unsubscribe' }],
    ['unsubscribe with an empty list', { action: 'unsubscribe', channels: [] }],
    ['refresh without a token', { action: 'refresh' }],
    ['refresh with an empty token', { action: 'refresh', token: '' }],
    ['refresh with a number for a token', { action: 'refresh', token: 42 }],
    ['refresh with an object for a token', { action: 'refresh', token: { jwt: 'x' } }],
  ])('BAD_MESSAGE for %s', (_case, message) => expect(refusal(message)).toBe('BAD_MESSAGE'));

  it.each<[string, unknown]>([
    ['no action', { channels: ['all'] }],
    ['an empty object', {}],
    ['an unknown action', { action: 'subscribe_all', channels: ['all'] }],
    ['an action in other case', { action: 'Subscribe', channels: ['all'] }],
    ['action null', { action: null }],
    ['a numeric action', { action: 1 }],
    ['an action in a list', { action: ['ping'] }],
  ])('UNKNOWN_ACTION for %s', (_case, message) => expect(refusal(message)).toBe('UNKNOWN_ACTION'));

  it.each<[string, unknown]>([
    ['an empty name', ''],
    ['a number', 42],
    ['null', null],
    ['an object', { name: 'all' }],
    ['a kind without its id', 'match'],
    ['a kind with an empty id', 'match:'],
    ['an id with a space', 'team:has space'],
    ['a slash with no topic after it', 'league:a/'],
    ['a topic with a second slash', 'league:a/results/b'],
    ['an id with a second colon', 'user:a:b'],
    ['an id longer than 64 characters', `match:${'x'.repeat(65)}`],
    ['a name longer than 80 characters', 'x'.repeat(81)],
  ])('INVALID_CHANNEL for %s', (_case, channel) => {
    expect(refusal(subscribe([channel]))).toBe('INVALID_CHANNEL');
    expect(refusal({ action: 'unsubscribe', channels: ['all', channel] })).toBe('INVALID_CHANNEL');
  });

  it.each(['bogus:1', 'score', 'ALL', 'All', 'live', 'live:some', 'matches:m1', ':m1', 'Match:m1'])(
    'UNKNOWN_CHANNEL for %j',
    (channel) => {
      expect(refusal(subscribe([channel]))).toBe('UNKNOWN_CHANNEL');
      expect(refusal({ action: 'unsubscribe', channels: [channel] })).toBe('UNKNOWN_CHANNEL');
    },
  );

  it('TOO_MANY_CHANNELS above maxChannelsPerMessage, in subscribe, unsubscribe and resume', () => {
    const six = ['match:1', 'match:2', 'match:3', 'match:4', 'match:5', 'match:6'];
    expect(refusal(subscribe(six))).toBe('TOO_MANY_CHANNELS');
    expect(refusal({ action: 'unsubscribe', channels: six })).toBe('TOO_MANY_CHANNELS');
    expect(refusal(subscribe(['all'], { resume: Object.fromEntries(six.map((s) => [s, 1])) }))).toBe('TOO_MANY_CHANNELS');
    expect(refusal(subscribe(['all']), { maxChannelsPerMessage: 0 })).toBe('TOO_MANY_CHANNELS');
    // exactly the limit passes
    expect(parse(subscribe(six.slice(0, 5))).action).toBe('subscribe');
    expect(parse(subscribe(['all'], { resume: Object.fromEntries(six.slice(0, 5).map((s) => [s, 1])) })).action).toBe('subscribe');
  });

  it.each<[string, unknown]>([
    ['resume as a list', { resume: [['match:m1', 1]] }],
    ['resume as a string', { resume: 'match:m1=1' }],
    ['resume as a number', { resume: 5 }],
    ['resume null', { resume: null }],
    ['resume false', { resume: false }],
    ['a resume key that is not a stream (live:all)', { resume: { 'live:all': 1 } }],
    ['a negative seq', { resume: { 'match:m1': -1 } }],
    ['a fractional seq', { resume: { 'match:m1': 1.5 } }],
    ['a seq as a string', { resume: { 'match:m1': '3' } }],
    ['a seq null', { resume: { 'match:m1': null } }],
    ['a seq beyond the safe integers', { resume: { 'match:m1': 2 ** 53 } }],
    ['an infinite seq (1e999)', '{"action":"subscribe","channels":["all"],"resume":{"match:m1":1e999}}'],
    ['since that is no date', { since: 'yesterday' }],
    ['since empty', { since: '' }],
    ['since as a number', { since: 1714557600000 }],
    ['since null', { since: null }],
  ])('BAD_RESUME for %s', (_case, extra) => {
    const message = typeof extra === 'string' ? extra : subscribe(['all'], extra as Record<string, unknown>);
    expect(refusal(message)).toBe('BAD_RESUME');
  });

  it("a league's own stream is a resume key (league_table events)", () => {
    const parsed = parse(subscribe(['league:epl'], { resume: { 'league:epl': 4 } }));
    expect(parsed.action === 'subscribe' && [...parsed.resume]).toEqual([['league:epl', 4]]);
  });

  it('team and all streams are resume keys (announcements)', () => {
    const parsed = parse(subscribe(['team:ars', 'all'], { resume: { 'team:ars': 2, all: 7 } }));
    expect(parsed.action === 'subscribe' && [...parsed.resume]).toEqual([['team:ars', 2], ['all', 7]]);
  });

  it('a malformed resume key is refused with the channel code', () => {
    expect(refusal(subscribe(['all'], { resume: { 'bogus:1': 1 } }))).toBe('UNKNOWN_CHANNEL');
    expect(refusal(subscribe(['all'], { resume: { 'match:': 1 } }))).toBe('INVALID_CHANNEL');
  });

  it('the refusal carries its catalog close code and HTTP status', () => {
    let error: unknown;
    try {
      parse('{');
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'BAD_JSON', closeCode: 1007, httpStatus: 400 });
  });
});

describe('parseClientMessage: accepted forms', () => {
  it('subscribe: channels, an empty resume map, no since', () => {
    const message = parse(subscribe(['match:m1', 'all']));
    expect(message).toEqual({ action: 'subscribe', channels: ['match:m1', 'all'], resume: new Map() });
    expect(message).not.toHaveProperty('since');
  });

  it('subscribe: every channel kind', () => {
    const all = ['match:m1', 'league:epl', 'team:ars', 'live:all', 'all', 'user:u1'];
    expect(parse(subscribe(all), { maxChannelsPerMessage: 6 })).toMatchObject({ channels: all });
  });

  it('subscribe: ids of the full alphabet and up to 64 characters', () => {
    const channels = ['match:Az09_.-', `team:${'x'.repeat(64)}`];
    expect(parse(subscribe(channels))).toMatchObject({ channels });
  });

  it('subscribe: duplicate channels collapse, first occurrence order kept', () => {
    expect(parse(subscribe(['all', 'match:m1', 'all', 'match:m1', 'live:all']))).toMatchObject({
      channels: ['all', 'match:m1', 'live:all'],
    });
  });

  it('subscribe: resume map of match and user streams, seq 0 allowed', () => {
    const message = parse(subscribe(['match:m1', 'user:u1'], { resume: { 'match:m1': 17, 'user:u1': 0, 'match:m2': 3 } }));
    expect(message).toMatchObject({ action: 'subscribe' });
    expect(message.action === 'subscribe' && [...message.resume]).toEqual([
      ['match:m1', 17],
      ['user:u1', 0],
      ['match:m2', 3],
    ]);
  });

  it('subscribe: an empty resume object is an empty map', () => {
    expect(parse(subscribe(['all'], { resume: {} }))).toEqual({ action: 'subscribe', channels: ['all'], resume: new Map() });
  });

  it.each([
    ['2024-05-01T10:00:00Z', '2024-05-01T10:00:00.000Z'],
    ['2024-05-01T10:00:00.123Z', '2024-05-01T10:00:00.123Z'],
    ['2024-05-01T12:00:00+02:00', '2024-05-01T10:00:00.000Z'],
    ['2024-05-01T05:30:00.5-04:30', '2024-05-01T10:00:00.500Z'],
  ])('subscribe: since %s is normalized to %s', (since, iso) => {
    expect(parse(subscribe(['all'], { since }))).toEqual({ action: 'subscribe', channels: ['all'], resume: new Map(), since: iso });
  });

  it('unsubscribe: channels, duplicates collapsed', () => {
    expect(parse({ action: 'unsubscribe', channels: ['team:ars', 'team:ars', 'all'] })).toEqual({
      action: 'unsubscribe',
      channels: ['team:ars', 'all'],
    });
  });

  it('ping, extra fields ignored', () => {
    expect(parse({ action: 'ping' })).toEqual({ action: 'ping' });
    expect(parse({ action: 'ping', channels: 'nonsense', id: 7 })).toEqual({ action: 'ping' });
  });

  it('refresh with a token', () => {
    expect(parse({ action: 'refresh', token: 'eyJhbGciOiJIUzI1NiJ9.e30.sig' })).toEqual({
      action: 'refresh',
      token: 'eyJhbGciOiJIUzI1NiJ9.e30.sig',
    });
  });

  it('whitespace around the JSON is fine', () => {
    expect(parse('  \n{"action":"ping"}\t ')).toEqual({ action: 'ping' });
  });
});
