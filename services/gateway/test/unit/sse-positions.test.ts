import { randomBytes } from 'node:crypto';
import { ProtocolError, type OutboxEvent } from '@matchcast/protocol';
import { ConnectionPositions, PositionTokens } from '../../src/transport/sse-positions';

const limits = { maxLength: 4096, maxItems: 100 };
const key = randomBytes(32);
const tokens = new PositionTokens(key, limits);

function event(stream: string, seq: number): OutboxEvent {
  return { stream, seq, type: 'goal', match_id: null, data: {}, timestamp: new Date().toISOString() } as unknown as OutboxEvent;
}

/** A connection that received these positions, in this order. */
function connection(positions: [string, number][], withSince = false, using = tokens): ConnectionPositions {
  const connection = new ConnectionPositions(using, withSince);
  connection.setSince(Date.parse('2026-11-30T12:00:00Z'));
  for (const [stream, seq] of positions) connection.set(stream, using.eventItem(event(stream, seq)));
  return connection;
}

function refusal(token: string, using = tokens): ProtocolError {
  try {
    using.decode(token);
  } catch (error) {
    return error as ProtocolError;
  }
  throw new Error(`accepted ${token}`);
}

describe('SSE position tokens', () => {
  it('round-trips every stream of the connection, least recently active first', () => {
    const c = connection([['match:a', 3], ['user:u-1', 9], ['match:b', 40], ['purchase:17', 2], ['match:a', 4], ['team:ars', 5]]);
    const token = c.token();
    expect(token).toMatch(/^1:[A-Za-z0-9_-]{22}:/);
    const decoded = tokens.decode(token);
    expect([...decoded.positions]).toEqual([['user:u-1', 9], ['match:b', 40], ['purchase:17', 2], ['match:a', 4], ['team:ars', 5]]);
    expect(decoded.sinceMs).toBeUndefined();
  });

  it('is compact: a few bytes per stream plus one 22-character MAC', () => {
    const c = connection(Array.from({ length: 10 }, (_, i) => [`match:m${i}`, 1000 + i] as [string, number]));
    expect(c.token().length).toBeLessThan(25 + 10 * 9);
  });

  it('carries `since` when the connection has channels that are not one stream', () => {
    const c = connection([['match:a', 1]], true);
    expect(tokens.decode(c.token()).sinceMs).toBe(Date.parse('2026-11-30T12:00:00Z'));
  });

  it('keeps the MAC right incrementally (same token as a connection built from scratch)', () => {
    const moved = connection([['match:a', 1], ['match:b', 1], ['match:a', 2], ['match:b', 2], ['match:a', 3]]);
    const fresh = connection([['match:b', 2], ['match:a', 3]]);
    expect(moved.token()).toBe(fresh.token());
  });

  it('has an empty but valid token before any stream, and stays valid as streams are added and seqs grow digits', () => {
    const c = connection([]);
    expect([...tokens.decode(c.token()).positions]).toEqual([]);
    const seen = new Map<string, number>();
    for (let i = 0; i < 400; i++) {
      const stream = `match:m${(i * 7) % 13}`;
      const seq = (seen.get(stream) ?? 30) + 1 + (i % 5);
      seen.set(stream, seq);
      c.set(stream, tokens.eventItem(event(stream, seq)));
      if (i % 3 === 0) c.withSince = !c.withSince;
      expect(Object.fromEntries(tokens.decode(c.token()).positions)).toEqual(Object.fromEntries(seen));
    }
  });

  it('rejects a changed seq, stream or MAC (BAD_POSITION_TOKEN)', () => {
    const token = connection([['match:a', 35], ['match:b', 7]]).token();
    const [version, mac, body] = token.split(':', 3) as [string, string, string];
    const rest = token.slice(version.length + mac.length + 2);
    expect(body.length).toBeGreaterThan(0);
    const tampered = [
      `${version}:${mac}:${rest.replace('ma~z', 'ma~10')}`, // a's seq 35 → 36
      `${version}:${mac}:${rest.replace('mb~7', 'mb~8')}`,
      `${version}:${mac}:${rest.replace('mb~', 'mc~')}`,
      `${version}:${mac}:${rest.replace('ma~', 'ua~')}`,
      `${version}:${mac.slice(0, 21)}${mac[21] === 'A' ? 'B' : 'A'}:${rest}`,
      `${version}:${mac}:${rest},mz~1`,
      `${version}:${mac}:${rest},s1`,
    ];
    for (const bad of tampered) {
      expect(bad).not.toBe(token);
      expect(refusal(bad).code).toBe('BAD_POSITION_TOKEN');
      expect(refusal(bad).httpStatus).toBe(400);
    }
  });

  it('rejects a truncated token at every length', () => {
    const token = connection([['match:a', 35], ['match:bb', 7000], ['user:x', 2]], true).token();
    for (let length = 0; length < token.length; length++) {
      const cut = token.slice(0, length);
      if (cut === '') continue; // no Last-Event-ID at all
      expect(refusal(cut).code).toBe('BAD_POSITION_TOKEN');
    }
  });

  it('rejects a token signed with another key', () => {
    const other = new PositionTokens(randomBytes(32), limits);
    const token = connection([['match:a', 1]], false, other).token();
    expect(other.decode(token).positions.get('match:a')).toBe(1);
    expect(refusal(token).code).toBe('BAD_POSITION_TOKEN');
  });

  it('rejects a stream listed twice (an XOR MAC would cancel the pair)', () => {
    const item = tokens.item('match:a', 5)!;
    const mac = Buffer.alloc(16);
    expect(refusal(PositionTokens.format(mac, `${item.text},${item.text}`)).message).toMatch(/twice/);
  });

  it('rejects garbage, other versions and the wrong shape', () => {
    for (const bad of ['x', '1:', '2:AAAAAAAAAAAAAAAAAAAAAA:', '1:short:ma~1', '1:AAAAAAAAAAAAAAAAAAAAAA:match:a~1', '1:AAAAAAAAAAAAAAAAAAAAAA:ma~-1', '1:AAAAAAAAAAAAAAAAAAAAAA:ma~1\n', '1:AAAAAAAAAAAAAAAAAAAAAA:ma~zzzzzzzzzzzz']) {
      expect(refusal(bad).code).toBe('BAD_POSITION_TOKEN');
    }
  });

  it('refuses an oversized token before any PRF, and one with more positions than the limit', () => {
    expect(refusal(`1:${'A'.repeat(22)}:${'ma~1,'.repeat(2000)}`).message).toMatch(/too long/);
    const many = Array.from({ length: 150 }, (_, i) => `mm${i}~1`).join(',');
    expect(refusal(`1:${'A'.repeat(22)}:${many}`).message).toMatch(/too many/);
  });

  it('past the length limit keeps the most recently active streams and adds `since` for the rest', () => {
    const small = new PositionTokens(key, { maxLength: 512, maxItems: 100 });
    const long = (i: number) => `match:${'x'.repeat(50)}${String(i).padStart(3, '0')}`;
    const c = connection(Array.from({ length: 30 }, (_, i) => [long(i), i + 1] as [string, number]), false, small);
    const token = c.token();
    expect(token.length).toBeLessThanOrEqual(512);
    const decoded = small.decode(token);
    expect(decoded.sinceMs).toBe(Date.parse('2026-11-30T12:00:00Z'));
    const kept = [...decoded.positions.keys()];
    expect(kept.length).toBeGreaterThan(3);
    expect(kept.length).toBeLessThan(30);
    // The newest ones, in order of activity.
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => long(30 - kept.length + i)));
  });

  it('past the position limit keeps the most recent `maxItems` streams', () => {
    const few = new PositionTokens(key, { maxLength: 4096, maxItems: 5 });
    const c = connection(Array.from({ length: 12 }, (_, i) => [`match:m${i}`, 1] as [string, number]), false, few);
    const decoded = few.decode(c.token());
    expect([...decoded.positions.keys()]).toEqual(['match:m7', 'match:m8', 'match:m9', 'match:m10', 'match:m11']);
    expect(decoded.sinceMs).toBeDefined();
  });

  it('holds at most the streams a token can carry, so a delivery costs the same after thousands of streams', () => {
    const name = (i: number) => `match:m${String(i).padStart(4, '0')}`;
    const many = connection([], true);
    const sort = jest.spyOn(Array.prototype, 'sort');
    const layOut = jest.spyOn(ConnectionPositions.prototype as any, 'layOut');
    for (let i = 0; i < 2200; i++) {
      many.set(name(i), tokens.eventItem(event(name(i), 1)));
      many.idLine();
      expect(many.size).toBeLessThanOrEqual(limits.maxItems);
    }
    // Laid out once: past the bound each new stream took the place of the one it pushed out.
    expect(layOut).toHaveBeenCalledTimes(1);
    expect(sort).not.toHaveBeenCalled();
    layOut.mockRestore();
    sort.mockRestore();
    // It holds what a connection that saw only the last 100 streams holds, and `since` for the others.
    const recent = connection(Array.from({ length: 100 }, (_, i) => [name(2100 + i), 1] as [string, number]), true);
    const [held, fresh] = [tokens.decode(many.token()), tokens.decode(recent.token())];
    expect(Object.fromEntries(held.positions)).toEqual(Object.fromEntries(fresh.positions));
    expect(held.sinceMs).toBe(fresh.sinceMs);
  });

  it('stays exact past the limits as streams of every length come and go', () => {
    const few = new PositionTokens(key, { maxLength: 256, maxItems: 5 });
    const c = connection([], false, few);
    const seqs = new Map<string, number>();
    const recent: string[] = []; // least recently active first
    for (let i = 0; i < 600; i++) {
      const stream = `${['match', 'user', 'team'][i % 3]}:${'x'.repeat(1 + ((i * 7) % 40))}${(i * 13) % 17}`;
      const seq = (seqs.get(stream) ?? 30) + 1 + (i % 9) * 20;
      seqs.set(stream, seq);
      c.set(stream, few.eventItem(event(stream, seq)));
      if (recent.includes(stream)) recent.splice(recent.indexOf(stream), 1);
      recent.push(stream);
      const decoded = few.decode(c.token());
      const held = [...decoded.positions.keys()];
      // The most recently active streams, each at its last seq, and `since` for the ones dropped.
      expect(held.sort()).toEqual(recent.slice(-held.length).sort());
      for (const name of held) expect(decoded.positions.get(name)).toBe(seqs.get(name));
      expect(decoded.sinceMs === undefined).toBe(held.length === recent.length);
    }
  });

  it('once it has dropped a stream, carries `since` for it even on channels that are one stream each', () => {
    const few = new PositionTokens(key, { maxLength: 4096, maxItems: 2 });
    const c = connection([['match:a', 1], ['match:b', 1]], false, few);
    expect(few.decode(c.token()).sinceMs).toBeUndefined();
    c.set('match:c', few.eventItem(event('match:c', 1)));
    const decoded = few.decode(c.token());
    expect([...decoded.positions.keys()]).toEqual(['match:b', 'match:c']);
    expect(decoded.sinceMs).toBe(Date.parse('2026-11-30T12:00:00Z'));
    c.withSince = false; // the subscribe's own need for `since` is gone; the dropped stream's is not
    expect(few.decode(c.token()).sinceMs).toBeDefined();
  });

  it('computes an event position once, however many connections receive it', () => {
    const shared = event('match:a', 1);
    expect(tokens.eventItem(shared)).toBe(tokens.eventItem(shared));
  });

  it('refuses a key shorter than 32 bytes', () => {
    expect(() => new PositionTokens(Buffer.alloc(31), limits)).toThrow(/32 bytes/);
  });
});
