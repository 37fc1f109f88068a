import { ProtocolError } from '@matchcast/protocol';
import { MAX_DATA_BYTES, parseNotificationInput, storedJsonProblem } from '../../src/validate/notification-input';

const NOW = Date.parse('2030-01-01T00:00:00Z');
const base = { user_id: 'alice', title: 'Goal!', message: 'Arsenal 1-0', type: 'goal' };
const parse = (body: unknown) => parseNotificationInput(body, NOW);

function fieldsOf(body: unknown): Record<string, string> {
  try {
    parse(body);
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    return { code: (error as ProtocolError).code, ...(error as ProtocolError).fields };
  }
  throw new Error('accepted');
}

describe('parseNotificationInput', () => {
  it('takes a minimal body, with nulls for what is not given', () => {
    expect(parse(base)).toEqual({
      userIds: ['alice'], title: 'Goal!', message: 'Arsenal 1-0', type: 'goal', priority: null, matchId: null, teamId: null,
      leagueId: null, data: null, expiresAt: null, sourceKey: null,
    });
  });

  it('takes every field; recipients are deduplicated in order; the key is namespaced', () => {
    const input = parse({
      ...base, user_id: undefined, user_ids: ['b', 'a', 'b'], priority: 'urgent', match_id: 'm1', team_id: 't1', league_id: 'l1',
      data: { x: [1, { y: 'z' }] }, expires_at: '2030-01-02T00:00:00.5+01:00', idempotency_key: 'abc-123',
    });
    expect(input).toMatchObject({ userIds: ['b', 'a'], priority: 'urgent', matchId: 'm1', sourceKey: 'api:abc-123', data: { x: [1, { y: 'z' }] } });
    expect(input.expiresAt?.toISOString()).toBe('2030-01-01T23:00:00.500Z');
  });

  it('treats null as not given', () => {
    expect(parse({ ...base, priority: null, data: null, expires_at: null, idempotency_key: null }).priority).toBeNull();
  });

  it('counts characters as Postgres does (code points): 200 emoji are a valid title', () => {
    expect(parse({ ...base, title: '⚽'.repeat(200) }).title).toHaveLength(200);
    expect(parse({ ...base, title: '😀'.repeat(200) }).title).toHaveLength(400);
    expect(fieldsOf({ ...base, title: '😀'.repeat(201) })).toHaveProperty('title');
  });

  it('refuses a body that is not an object with BAD_REQUEST', () => {
    for (const body of [undefined, null, [], 'x', 1]) expect(fieldsOf(body)).toEqual({ code: 'BAD_REQUEST' });
  });

  it('names a field called __proto__ like any other', () => {
    expect(fieldsOf(JSON.parse('{"__proto__": 1, "user_id": "alice", "title": "t", "message": "m", "type": "goal"}'))).toEqual({
      code: 'VALIDATION_FAILED',
      ['__proto__']: 'unknown field',
    });
  });

  it('reports at most 20 fields, however many unknown ones are sent', () => {
    const body = { ...base, ...Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`f${i}`, 1])) };
    expect(Object.keys(fieldsOf(body))).toHaveLength(21);
  });

  it('rejects times that do not exist or are not in the future', () => {
    for (const expires_at of ['2030-02-29T00:00:00Z', '2030-01-01T24:00:00Z', '2030-01-01T00:60:00Z', '2029-12-31T23:59:59Z', '2030-01-01T00:00:00Z', 'tomorrow', '2030-01-02']) {
      expect([expires_at, fieldsOf({ ...base, expires_at }).expires_at]).toEqual([expires_at, expect.any(String)]);
    }
    expect(parse({ ...base, expires_at: '2032-02-29T00:00:00Z' }).expiresAt).toEqual(new Date('2032-02-29T00:00:00Z'));
  });
});

describe('storedJsonProblem', () => {
  it('measures data as jsonb prints it (a space after every : and ,)', () => {
    // {"k": "…"} is 9 bytes around the string, one more than JSON.stringify's 8.
    const fits = { k: 'x'.repeat(MAX_DATA_BYTES - 9) };
    expect(storedJsonProblem(fits)).toBeUndefined();
    expect(storedJsonProblem({ k: 'x'.repeat(MAX_DATA_BYTES - 8) })).toMatch(/at most 4096 bytes/);
  });

  it('survives hostile nesting without recursion', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(storedJsonProblem({ deep })).toMatch(/nest deeper/);
  });

  it('refuses NUL and lone surrogates in keys and values', () => {
    expect(storedJsonProblem({ 'a\u0000': 1 })).toMatch(/NUL/);
    expect(storedJsonProblem({ a: ['\udc00'] })).toMatch(/NUL/);
    expect(storedJsonProblem({ a: '😀' })).toBeUndefined();
  });

  // Before: 1e400 parses as Infinity, which JSON.stringify writes as null: 201, and the stored
  // data said {"k": null}, not what was sent.
  it('refuses a number that overflows to infinity as the body is parsed', () => {
    for (const literal of ['1e400', '-1e400', '[1, 2e999]']) {
      expect([literal, storedJsonProblem(JSON.parse(`{"k": ${literal}}`))]).toEqual([literal, expect.stringMatching(/finite/)]);
    }
    expect(storedJsonProblem(JSON.parse('{"k": 1.7976931348623157e308, "z": -0}'))).toBeUndefined();
  });
});
