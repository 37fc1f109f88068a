/** Generators of hostile input for every surface of the gateway. */
import fc from 'fast-check';
import { LIVE_MATCH, LIVE_STREAM, MAX_PAYLOAD_BYTES, USER_ID, pct, signToken } from './fuzz-stack';
import type { Frame } from './ws-probe';

// ---------------------------------------------------------------- odd scalars

const anyString = (maxLength = 40) =>
  fc.oneof(
    fc.string({ maxLength }),
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ unit: 'grapheme', maxLength }),
    fc.constantFrom('', ' ', '\u0000', '\uffff', '\ud800', '💥', 'é', '\u202e', '%', '%00', '%zz', '\\', '"', '{', '__proto__', 'constructor'),
  );

const oddNumbers = fc.constantFrom(1.5, -1, 0, -0, 1e308, -1e308, 2 ** 53, 2 ** 53 + 2, 2 ** 60, 2 ** 63, 4294967296, 0.1, 5e-324);

const oddJsonValue: fc.Arbitrary<unknown> = fc.oneof(
  oddNumbers,
  anyString(),
  fc.constantFrom(null, true, false, [], {}, [[]], { a: 1 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

// ---------------------------------------------------------------- channels, resume, since

const validChannel = fc.constantFrom('all', 'live:all', LIVE_STREAM, 'match:fz-other', 'league:fz-l', 'team:fz-h', `user:${USER_ID}`, 'user:someone-else');

export const channelish: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: validChannel },
  { weight: 3, arbitrary: anyString(90) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'match:', ':', 'match::', 'match:a:b', 'MATCH:x', 'live:none', 'live', 'user:', 'all:all', ' all', 'all ',
      `match:${'a'.repeat(64)}`, `match:${'a'.repeat(65)}`, `league:${'x'.repeat(80)}`, 'x'.repeat(81), 'match:💥', 'match:a b',
      'match:%2F', 'match:..', 'match:-', 'user:__proto__', '__proto__', 'constructor', 'toString', 'hasOwnProperty:1',
    ),
  },
  { weight: 1, arbitrary: oddJsonValue },
);

export const channelsField: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: fc.array(channelish, { minLength: 0, maxLength: 6 }) },
  { weight: 1, arbitrary: fc.array(validChannel, { minLength: 95, maxLength: 130 }) },
  { weight: 1, arbitrary: fc.integer({ min: 90, max: 140 }).map((n) => Array.from({ length: n }, (_, i) => `match:fz-many-${i}`)) },
  { weight: 1, arbitrary: oddJsonValue },
);

const resumeKey = fc.oneof(
  fc.constantFrom(LIVE_STREAM, 'match:fz-other', `user:${USER_ID}`, 'user:someone-else', 'league:fz-l', 'all', 'live:all', '',
    '__proto__', 'constructor', 'match:', 'match:a:b', `match:${'z'.repeat(65)}`, '1', 'match:💥'),
  anyString(30),
);
export const resumeValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(1.5, -1, 1e308, '1', 0, 1, 2, 3, 2 ** 53 - 1, 2 ** 53, 2 ** 60, -0, null, true, [], {}, '0', 'NaN'),
  fc.integer({ min: -5, max: 50 }),
  fc.nat(),
  oddJsonValue,
);
export const resumeField: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: fc.dictionary(resumeKey, resumeValue, { maxKeys: 6 }) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 90, max: 400 }).map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`match:fz-r${i}`, i]))),
  },
  { weight: 1, arbitrary: oddJsonValue },
);

export const sinceField: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      '+275760-09-13T00:00:00.000Z', '-271821-04-20T00:00:00.000Z', '+275760-09-13T00:00:00.001Z', '0', '1', '-1', '1970-01-01',
      '9999-12-31T23:59:59.999Z', '+010000-01-01T00:00:00.000Z', '10000', '2026-02-30', '2026-13-01', 'now', 'Infinity', '',
      '1970-01-01T00:00:00+99:99', '0001-01-01', '-000001-01-01T00:00:00Z', '2026-01-01T00:00:00.000000000001Z', '12', 'Z',
      'Thu, 01 Jan 1970 00:00:00 GMT', '2026', '99999', '+020000-01-01', 'T', ' 2026-01-01 ',
    ),
  },
  { weight: 2, arbitrary: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()) },
  { weight: 1, arbitrary: fc.integer().map(String) },
  { weight: 1, arbitrary: oddJsonValue },
);

// ---------------------------------------------------------------- tokens

/** Token values: junk, and tokens signed with the gateway's own secret but carrying odd claims. */
export const token: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('', 'a', 'a.b', 'a.b.c', '...', 'null', 'Bearer', '%', 'x'.repeat(6000), 'eyJ.eyJ.x'),
  anyString(60),
  fc.constantFrom(
    '{"sub":"fuzz-user"}', 'null', '1', '[]', '"str"', '{}', '{"sub":1}', '{"sub":""}', '{"sub":"fuzz-user","exp":1}',
    '{"sub":"fuzz-user","exp":"x"}', '{"sub":"fuzz-user","nbf":1e308}', '{"sub":{"toString":1}}', '{"sub":"💥"}',
    '{"sub":"fuzz-user","exp":1e999}', '{"__proto__":{"sub":"x"}}', 'not json', '',
  ).map((claims) => signToken(claims)),
  fc.constantFrom('{"alg":"none"}', 'null', '[]', '{"alg":"HS256","crit":["x"]}', '"HS256"', '{"alg":"hs256"}')
    .map((header) => signToken('{"sub":"fuzz-user"}', header)),
  fc.jsonValue({ maxDepth: 2 }).map((claims) => signToken(JSON.stringify(claims) ?? 'null')),
  fc.constant(signToken(`{"sub":"${USER_ID}"}`, undefined, 'some-other-secret-0123456789abcdef')),
);

// ---------------------------------------------------------------- WebSocket frames

export const nearValidMessage: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    action: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom('subscribe', 'unsubscribe', 'ping') },
      { weight: 1, arbitrary: fc.constantFrom('SUBSCRIBE', 'Subscribe', 'subscribe ', '', 'pong', '__proto__', 'toString') },
      { weight: 1, arbitrary: oddJsonValue },
    ),
    channels: channelsField,
    resume: resumeField,
    since: sinceField,
    extra: oddJsonValue,
  },
  { requiredKeys: ['action'] },
);

const frameText: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: nearValidMessage.map((m) => JSON.stringify(m)) },
  { weight: 2, arbitrary: anyString(200) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null') },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'null', '[]', '{}', '""', '1', 'true', '{"action":null}', '{"action":"subscribe"}', '{"action":"subscribe","channels":[]}',
      '{"action":"subscribe","channels":"all"}', '{"action":"subscribe","channels":["all"],"resume":{"match:fz-live":1e999}}',
      '{"action":"subscribe","channels":["all"],"since":"+275760-09-13T00:00:00.000Z"}',
      '{"action":"subscribe","channels":["all"],"since":"1970-01-01"}', '{"__proto__":{"action":"ping"}}',
      '{"action":"ping","action":"subscribe"}', '{"action":"unsubscribe","channels":["match:never-subscribed"]}',
      `{"action":"subscribe","channels":["${LIVE_STREAM}"],"resume":{"${LIVE_STREAM}":0}}`,
      `{"action":"subscribe","channels":["${LIVE_STREAM}"],"resume":{"${LIVE_STREAM}":9007199254740991}}`,
      '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]',
      '{"action":"subscribe","channels":["all"],"resume":{"match:a":1,"match:a":-1}}', '\u0000', '\ufeff{"action":"ping"}',
    ),
  },
);

export const frame: fc.Arbitrary<Frame> = fc.oneof(
  { weight: 10, arbitrary: frameText.map((text): Frame => ({ kind: 'text', text })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes): Frame => ({ kind: 'binary', bytes })) },
  {
    weight: 1,
    arbitrary: fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0x7b, 0x22, 0xfe, 0x22, 0x7d], [0xf4, 0x90, 0x80, 0x80])
      .map((bytes): Frame => ({ kind: 'bad-utf8', bytes: Uint8Array.from(bytes) })),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('oversize' as const),
      size: fc.oneof(fc.constantFrom(MAX_PAYLOAD_BYTES + 1, MAX_PAYLOAD_BYTES * 4, 200_000), fc.integer({ min: MAX_PAYLOAD_BYTES + 1, max: 50_000 })),
      binary: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.array(fc.string({ maxLength: 20 }), { minLength: 2, maxLength: 5 }).map((parts): Frame => ({ kind: 'fragmented', parts })) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('flood' as const),
      count: fc.oneof(fc.integer({ min: 20, max: 400 }), fc.constantFrom(1500, 2500)),
      text: fc.oneof(fc.constant('{"action":"ping"}'), frameText),
    }),
  },
);

export const wsBatch = fc.record({
  token: fc.option(token, { freq: 4 }),
  frames: fc.array(frame, { minLength: 1, maxLength: 8 }),
});

// ---------------------------------------------------------------- raw HTTP requests

const headerName = fc.oneof(
  fc.constantFrom('X-Fuzz', 'Origin', 'Cookie', 'Accept', 'User-Agent', 'Sec-WebSocket-Protocol', 'Sec-WebSocket-Extensions',
    'Last-Event-ID', 'Authorization', 'X-Forwarded-For', 'Expect', 'Upgrade', 'Connection', 'Host', 'Accept-Encoding'),
  fc.string({ minLength: 1, maxLength: 20 }).filter((n) => !/[\r\n:]/.test(n)),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 10 }).filter((n) => !/[\r\n:]/.test(n)),
).filter((n) => !/^(content-length|transfer-encoding)$/i.test(n.trim()));

const headerValue = fc.oneof(
  fc.string({ maxLength: 60 }).filter((v) => !/[\r\n]/.test(v)),
  fc.string({ unit: 'binary', maxLength: 30 }).filter((v) => !/[\r\n]/.test(v)),
  fc.constantFrom('', ' ', 'null', 'x'.repeat(9000), 'y'.repeat(17000), '\u0000', '\t', 'é', '💥', 'Bearer ', 'Bearer x.y.z', 'websocket, h2c'),
);

export const target: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      '//[', '//%', 'http://[', '/ws?token=%', '//[/ws', '//ws', 'http://gateway/ws', 'http://[::1/ws', 'ws://x/ws', '/ws?%', '/ws?token=%zz',
      '/ws?token=a.b.c', '/ws?token=', '/ws?token=%00', '/ws#frag', '/ws/', '/WS', '/ws/../ws', '/ws%3Ftoken=1', '*', '/', '/%', '/%zz', '///',
      '/\\', 'ws', '/ws?token=x&token=y', `/ws?token=${'a'.repeat(8000)}`, '/sse?channels=%', '/sse?channels=all&resume=%7B', '/api/matches?limit=%',
      '/healthz?%', '/readyz/..', '/metrics?x', '/index.html/..%2f..%2f', '/%2e%2e/%2e%2e/etc/passwd', '//%5B', 'http://127.0.0.1:1/ws', '/ws?token=%E0%A4%A',
      '/%E0%A4%A', '/?%', 'http:', 'http://', 'http:///', '/ws\u00ff', '/ws?\u00ff', '//@', '//a:b@c/ws', '/ws;x', '/ws?token=Bearer%20x',
    ),
  },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }).map((s) => `/${s}`).filter((t) => !/[\s]/.test(t)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }).map((s) => `/ws?token=${s}`).filter((t) => !/[\r\n ]/.test(t)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }).filter((t) => !/[\r\n ]/.test(t)) },
);

export interface RawRequestSpec {
  method: string;
  target: string;
  version: string;
  host: string | null;
  upgrade: boolean;
  key: string | null;
  wsVersion: string | null;
  origin: string | null;
  authorization: string | null;
  headers: [string, string][];
  /** Bytes written after a successful handshake (raw WebSocket frames, mostly invalid). */
  after: Uint8Array | null;
}

export const rawRequestSpec: fc.Arbitrary<RawRequestSpec> = fc.record({
  method: fc.oneof({ weight: 6, arbitrary: fc.constant('GET') }, { weight: 2, arbitrary: fc.constantFrom('POST', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'PATCH', 'TRACE', 'get', 'G ET', 'BREW', 'PRI') }),
  target,
  version: fc.oneof({ weight: 8, arbitrary: fc.constant('HTTP/1.1') }, { weight: 1, arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/9.9', 'http/1.1', '', 'HTTP/1.1 x') }),
  host: fc.oneof({ weight: 6, arbitrary: fc.constant('127.0.0.1') }, { weight: 2, arbitrary: fc.constantFrom(null, '', '[', '[::1', 'a:b:c', 'x'.repeat(5000), '💥', '127.0.0.1:99999', '%') }),
  upgrade: fc.boolean(),
  key: fc.oneof({ weight: 4, arbitrary: fc.constant('dGhlIHNhbXBsZSBub25jZQ==') }, { weight: 2, arbitrary: fc.constantFrom(null, '', 'x', '====', 'dGhlIHNhbXBsZSBub25jZQ', 'A'.repeat(5000), '💥') }),
  wsVersion: fc.oneof({ weight: 4, arbitrary: fc.constant('13') }, { weight: 2, arbitrary: fc.constantFrom(null, '', '8', '13, 8', '999999999999999999', 'x', '-13', '13 ') }),
  origin: fc.option(fc.oneof(fc.constantFrom('null', 'http://evil.example', '', 'file://', '💥', 'http://[', 'x'.repeat(3000)), anyString(30).filter((v) => !/[\r\n]/.test(v))), { freq: 3 }),
  authorization: fc.option(fc.oneof(fc.constantFrom('Bearer ', 'Bearer', 'Basic Zm9vOmJhcg==', 'Bearer a.b.c', 'bearer x'), token.map((t) => `Bearer ${t}`)), { freq: 3 }),
  headers: fc.array(fc.tuple(headerName, headerValue), { maxLength: 5 }),
  after: fc.option(fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.constantFrom(
    Uint8Array.from([0x81, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f]), // unmasked text frame (client frames must be masked)
    Uint8Array.from([0x8f, 0x80, 0, 0, 0, 0]), // reserved opcode
    Uint8Array.from([0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]), // 2^63-byte length
    Uint8Array.from([0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe8 ^ 2]), // close 1000
    Uint8Array.from([0x88, 0x81, 1, 2, 3, 4, 0x03]), // close with 1-byte payload
    Uint8Array.from([0x09, 0x80, 1, 2, 3, 4]), // fragmented ping
  )), { freq: 2 }),
});

export function buildRawRequest(spec: RawRequestSpec): Buffer {
  const lines = [`${spec.method} ${spec.target}${spec.version ? ` ${spec.version}` : ''}`];
  if (spec.host !== null) lines.push(`Host: ${spec.host}`);
  if (spec.upgrade) {
    lines.push('Connection: Upgrade', 'Upgrade: websocket');
    if (spec.key !== null) lines.push(`Sec-WebSocket-Key: ${spec.key}`);
    if (spec.wsVersion !== null) lines.push(`Sec-WebSocket-Version: ${spec.wsVersion}`);
  } else {
    lines.push('Connection: close');
  }
  if (spec.origin !== null) lines.push(`Origin: ${spec.origin}`);
  if (spec.authorization !== null) lines.push(`Authorization: ${spec.authorization}`);
  for (const [name, value] of spec.headers) lines.push(`${name}: ${value}`);
  // latin1 for the bytes we chose; characters above 0xff go out as UTF-8.
  const text = `${lines.join('\r\n')}\r\n\r\n`;
  return /[^\u0000-\u00ff]/.test(text) ? Buffer.from(text, 'utf8') : Buffer.from(text, 'latin1');
}

// ---------------------------------------------------------------- SSE query strings

const jsonish = (value: fc.Arbitrary<unknown>) => value.map((v) => JSON.stringify(v) ?? 'null');

export const sseQuery = fc.record({
  channels: fc.option(fc.oneof(
    fc.array(channelish.map((c) => (typeof c === 'string' ? c : JSON.stringify(c) ?? '')), { maxLength: 6 }).map((list) => list.join(',')),
    fc.constantFrom('', ',', ',,,', 'all,all', `${LIVE_STREAM},${LIVE_STREAM}`, Array.from({ length: 120 }, (_, i) => `match:c${i}`).join(','), 'user:someone-else', `user:${USER_ID}`),
  ), { freq: 6 }),
  resume: fc.option(fc.oneof(
    jsonish(resumeField),
    fc.constantFrom('{', '[1]', 'null', '"x"', '1', 'true', '{"__proto__":{"match:fz-live":1}}', '{"constructor":{"prototype":1}}', '%', `{"${LIVE_STREAM}":1e999}`, `{"${LIVE_STREAM}":-1}`),
    anyString(30),
  ), { freq: 2 }),
  since: fc.option(sinceField.map((s) => (typeof s === 'string' ? s : JSON.stringify(s) ?? '')), { freq: 3 }),
  token: fc.option(token, { freq: 4 }),
  repeated: fc.option(fc.constantFrom('channels', 'resume', 'since', 'token', 'channels[]', 'resume[x]'), { freq: 4 }),
  lastEventId: fc.option(fc.oneof(
    fc.constantFrom(`${LIVE_STREAM}@1.5`, '@', 'x@', '@1', `${LIVE_STREAM}@-1`, `${LIVE_STREAM}@1e999`, '@@@', `${LIVE_STREAM}@0x10`, `${LIVE_STREAM}@`, `${LIVE_STREAM}@0`,
      `${LIVE_STREAM}@9007199254740993`, 'all@1', '__proto__@1', 'constructor@1', `user:someone-else@1`, `match:💥@1`, 'x'.repeat(9000)),
    fc.tuple(resumeKey, fc.string({ maxLength: 12 })).map(([k, v]) => `${k}@${v}`),
    // Position tokens (docs/protocol.md): forged MACs, odd items, cut and padded ones.
    fc.constantFrom('1:', '1::', `1:${'A'.repeat(22)}:`, `1:${'A'.repeat(22)}:mfz-live~1`, `1:${'A'.repeat(22)}:mfz-live~1,mfz-live~1`, `1:${'A'.repeat(22)}:s0`,
      `1:${'A'.repeat(22)}:${'mx~1,'.repeat(900)}`, `2:${'A'.repeat(22)}:mx~1`, `1:${'_'.repeat(22)}:u${'x'.repeat(64)}~zzzzzzzzzzz`),
    fc.tuple(fc.string({ minLength: 22, maxLength: 22 }), fc.string({ maxLength: 40 })).map(([mac, items]) => `1:${mac}:${items}`),
  ).filter((v) => !/[\r\n]/.test(v)), { freq: 3 }),
  mode: fc.constantFrom('enc', 'enc', 'raw'),
});

export type SseQuery = typeof sseQuery extends fc.Arbitrary<infer T> ? T : never;

export function buildSseTarget(query: SseQuery): string {
  const enc = (v: string) => (query.mode === 'enc' ? pct(v) : v.replace(/[^\x21-\x7e]|[#&]/gu, (c) => pct(c)));
  const params: string[] = [];
  if (query.channels !== null) params.push(`channels=${enc(query.channels)}`);
  if (query.resume !== null) params.push(`resume=${enc(query.resume)}`);
  if (query.since !== null) params.push(`since=${enc(query.since)}`);
  if (query.token !== null) params.push(`token=${enc(query.token)}`);
  if (query.repeated !== null) params.push(`${query.repeated}=${enc('all')}`, `${query.repeated}=${enc(`${LIVE_STREAM}`)}`);
  return `/sse${params.length ? `?${params.join('&')}` : ''}`;
}

// ---------------------------------------------------------------- REST query strings

const restKey = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('limit', 'status') },
  { weight: 1, arbitrary: fc.constantFrom('status[]', 'limit[]', 'status[0]', 'status[a][b]', 'limit[x]', '__proto__', 'constructor', 'x', '', 'LIMIT', 'status%00') },
);
const restValue = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      '-1', '1.5', 'abc', '1e999', '%00', '', '0', '500', '501', '9999999999999999999', 'NaN', 'Infinity', '-Infinity', '-0', '%201', '0x10', '1e3',
      '2147483648', '9223372036854775808', '-9223372036854775809', 'live,half_time', ',,,', 'live%00', 'live', 'finished,scheduled', '%', '%zz',
      '%E0%A4%A', '%F0%9F%92%A5', 'x'.repeat(3000), Array.from({ length: 300 }, () => 'live').join(','), "live'--", '1;DROP TABLE match', '\\',
      '%5B%5D', '[]', '{}', '0.0000001', '-0.5', '+1', ' 1', '1 ',
    ),
  },
  { weight: 1, arbitrary: fc.integer().map(String) },
  { weight: 1, arbitrary: fc.double({ noNaN: true }).map(String) },
  { weight: 1, arbitrary: anyString(20).map(pct) },
);
export const restQuery = fc.array(fc.tuple(restKey, restValue), { maxLength: 5 }).map((pairs) =>
  pairs.map(([k, v]) => `${k}=${v.replace(/[^\x21-\x7e]|[#&]/gu, (c) => pct(c))}`).join('&'),
);

// ---------------------------------------------------------------- Redis bus messages

const streamName = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(LIVE_STREAM, 'match:fz-ghost', 'user:fz-ghost', `user:${USER_ID}`) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('', 'match:', 'match', 'all', 'live:all', 'league:fz-l', 'foo', 'match:a b', 'match:💥', '__proto__', 'constructor',
      'user:', `match:${'a'.repeat(200)}`, 'match:%', 'match:\u0000', ':', 'x'.repeat(10_000), 'user:__proto__'),
  },
  { weight: 1, arbitrary: anyString(40) },
);

/** A seq as JSON text: odd values, and numbers JSON.stringify cannot write (1e999 → Infinity). */
const seqText = fc.oneof(
  fc.constantFrom('1.5', '-1', '0', '-0', '1152921504606846976', '1e308', '1e999', '-1e999', '9007199254740993', '0.5', '1e-7', '2', '3', '"1"', 'null', 'true', '[]', '{}', '1e21'),
  fc.integer({ min: -3, max: 10 }).map(String),
  fc.nat().map(String),
);

const eventType = fc.oneof(fc.constantFrom('match_update', 'match_event', 'match_status', 'notification'), anyString(15));
const dataText = fc.oneof(
  fc.constantFrom('{}', '[]', '{"status":"live"}', '{"home_team":null,"away_team":{"id":1},"league":{"id":""},"status":1}',
    '{"home_team":{"id":"fz-h"},"away_team":{"id":"fz-a"},"league":{"id":"fz-l"},"status":"live"}', '{"__proto__":{"status":"live"}}',
    '{"toString":1,"valueOf":1}', '"x"', 'null', '1'),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null'),
);

/** A forged outbox event or ref, as NOTIFY payload text. */
export const forgedPayload = fc.record({
  ref: fc.constantFrom(undefined, undefined, 'true', 'false', '1'),
  id: fc.oneof(fc.constantFrom('"1"', '"999999999"', '"-1"', '""', '"x"', '1', 'null', '"9223372036854775808"', '"1.5"'), anyString(10).map((s) => JSON.stringify(s))),
  stream: streamName.map((s) => JSON.stringify(s)),
  seq: seqText,
  type: eventType.map((s) => JSON.stringify(s)),
  match_id: fc.oneof(fc.constantFrom('null', `"${LIVE_MATCH}"`, '"fz-ghost"', '1', '{}', '""', '"__proto__"'), anyString(10).map((s) => JSON.stringify(s))),
  data: dataText,
  timestamp: fc.oneof(fc.constantFrom('"2026-01-01T00:00:00.000Z"', '"x"', '""', '1', '"+275760-09-13T00:00:00.000Z"'), fc.date({ noInvalidDate: true }).map((d) => JSON.stringify(d.toISOString()))),
  drop: fc.subarray(['id', 'stream', 'seq', 'type', 'data', 'timestamp', 'match_id'], { maxLength: 2 }),
}).map((f) => {
  const fields: [string, string | undefined][] = [
    ['ref', f.ref], ['id', f.id], ['stream', f.stream], ['seq', f.seq], ['type', f.type],
    ['match_id', f.match_id], ['data', f.data], ['timestamp', f.timestamp],
  ];
  return `{${fields.filter(([k, v]) => v !== undefined && !f.drop.includes(k)).map(([k, v]) => `"${k}":${v}`).join(',')}}`;
});

const envelope = (payload: fc.Arbitrary<string>) =>
  fc.tuple(fc.oneof(fc.constantFrom('"match_change"', '"scoreboard_change"', 'null', '1', '"x"'), anyString(10).map((s) => JSON.stringify(s))), payload)
    .map(([channel, p]) => `{"channel":${channel},"payload":${JSON.stringify(p)}}`);

export const eventsMessage: fc.Arbitrary<string> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom('null', 'true', 'false', '1', '""', '[]', '{}', '"x"', '', ' ', '{', '{"payload":null}', '{"payload":1}',
      '{"payload":"null"}', '{"payload":"1"}', '{"payload":"[]"}', '{"payload":{}}', '[{"payload":"{}"}]', '{"__proto__":{"payload":"x"}}',
      'x'.repeat(100_000), `{"channel":"match_change","payload":"${'{'.repeat(5000)}"}`) },
  { weight: 2, arbitrary: anyString(100) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null') },
  { weight: 6, arbitrary: envelope(forgedPayload) },
  { weight: 1, arbitrary: envelope(anyString(50)) },
  { weight: 1, arbitrary: forgedPayload.map((p) => `{"channel":"match_change","payload":${p}}`) }, // payload as an object, not a string
);

export const heartbeatMessage: fc.Arbitrary<string> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom('null', 'true', '1', '""', '[]', '{}', '"x"', '', '{', 'x'.repeat(100_000), '{"listener_id":null}', '{"published":"x"}',
      '{"listener_id":{"toString":1},"published":1}', '{"listener_id":"fz-forged","published":1e999,"dropped":-1e999}', '{"listener_id":"fz-forged","published":-1,"dropped":1e308}') },
  { weight: 2, arbitrary: anyString(60) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v) ?? 'null') },
  {
    weight: 3,
    arbitrary: fc.record({ listener_id: oddJsonValue, sent_at: oddJsonValue, published: oddJsonValue, dropped: oddJsonValue }, { requiredKeys: [] })
      .map((beat) => JSON.stringify(beat)),
  },
);

export const busMessage = fc.oneof(
  { weight: 3, arbitrary: eventsMessage.map((message) => ({ channel: 'events' as const, message })) },
  { weight: 2, arbitrary: heartbeatMessage.map((message) => ({ channel: 'heartbeat' as const, message })) },
);

/**
 * Garbage that is well-formed enough to reach the sequencer (an envelope with a string payload)
 * but can never be a real next event of LIVE_STREAM: odd seqs, unknown streams, refs to rows
 * that do not exist. None of it may stop real updates of LIVE_STREAM from being delivered.
 */
export const wedgeMessage: fc.Arbitrary<string> = fc.record({
  stream: fc.oneof({ weight: 3, arbitrary: fc.constant(LIVE_STREAM) }, { weight: 1, arbitrary: streamName }),
  seq: fc.constantFrom('1.5', '-1', '0', '1152921504606846976', '1e308', '1e999', '9007199254740993', '0.5', '-1e999', '1e21'),
  ref: fc.boolean(),
  data: dataText,
}).map(({ stream, seq, ref, data }) => {
  const payload = ref
    ? `{"ref":true,"id":"999999999","stream":${JSON.stringify(stream)},"seq":${seq}}`
    : `{"id":"999999999","stream":${JSON.stringify(stream)},"seq":${seq},"type":"match_update","match_id":"${LIVE_MATCH}","data":${data},"timestamp":"2026-01-01T00:00:00.000Z"}`;
  return `{"channel":"scoreboard_change","payload":${JSON.stringify(payload)}}`;
});
