/**
 * Presence snapshots are read from Redis, whose content is untrusted: a value that decodes must
 * also render (the API answers ISO times), or one forged entry fails the whole admin view.
 */
import { decodePresenceMeta, decodeUserConnections } from '@matchcast/protocol';

const LAST_DATE_MS = 8.64e15;

describe('presence decoding', () => {
  it('skips a snapshot time past what a Date holds (it decoded, then toISOString threw)', () => {
    const meta = (at: number) => JSON.stringify({ at, connections: { ws: 1, sse: 0 }, channels: 1 });
    expect(decodePresenceMeta(meta(Number.MAX_SAFE_INTEGER))).toBeUndefined();
    expect(decodePresenceMeta(meta(LAST_DATE_MS + 1))).toBeUndefined();
    const latest = decodePresenceMeta(meta(LAST_DATE_MS));
    expect(new Date(latest!.at).toISOString()).toBe('+275760-09-13T00:00:00.000Z');
  });

  it("skips a user's connection whose time is past what a Date holds, and keeps the others", () => {
    const text = JSON.stringify([
      ['c1', 'ws', Number.MAX_SAFE_INTEGER, 1],
      ['c2', 'sse', 1_700_000_000_000, 2],
    ]);
    const decoded = decodeUserConnections(text);
    expect(decoded.map(([id]) => id)).toEqual(['c2']);
    for (const [, , since] of decoded) expect(() => new Date(since).toISOString()).not.toThrow();
  });
});
