import { MAX_STREAMS, Positions } from '../../src/positions';

describe('positions', () => {
  it('accepts each seq once and in order, dropping seq ≤ last', () => {
    const p = new Positions();
    expect(p.accept('match:a', 1, 'all')).toBe('next');
    expect(p.accept('match:a', 2, 'all')).toBe('next');
    expect(p.accept('match:a', 2, 'all')).toBe('duplicate');
    expect(p.accept('match:a', 1, 'all')).toBe('duplicate');
    expect(p.accept('match:b', 7, 'all')).toBe('next');
    expect(p.get('match:a')).toBe(2);
    expect(p.get('match:b')).toBe(7);
    expect(p.duplicates).toBe(2);
  });

  it('accepts a gap (never stalls) and counts it', () => {
    const p = new Positions();
    p.accept('match:a', 1, 'all');
    expect(p.accept('match:a', 4, 'all')).toBe('gap');
    expect(p.accept('match:a', 5, 'all')).toBe('next');
    expect(p.accept('match:a', 3, 'all')).toBe('duplicate');
    expect(p.gaps).toBe(1);
  });

  it('seeds from a snapshot without moving a stream backwards', () => {
    const p = new Positions();
    p.accept('match:a', 5, 'all');
    p.seed({ 'match:a': 3, 'match:b': 10 });
    expect(p.get('match:a')).toBe(5);
    expect(p.get('match:b')).toBe(10);
    expect(p.accept('match:b', 10, 'all')).toBe('duplicate');
    expect(p.accept('match:b', 11, 'all')).toBe('next');
  });

  it('seeds only what a resume can carry: a stream name the server accepts and a non-negative integer seq', () => {
    const p = new Positions();
    p.seed({ 'match:ok': 1, 'match:bad name': 2, 'nope': 3, 'match:f': 1.5, 'match:n': -1, 'match:big': 2 ** 60 });
    expect(p.resume(new Set(['all']), 100)).toEqual({ 'match:ok': 1 });
  });

  it('remembers at most MAX_STREAMS streams, forgetting the least recently active (a channel carrying endless new streams)', () => {
    const p = new Positions();
    p.accept('match:kept', 1, 'all');
    for (let i = 0; i < MAX_STREAMS + 5000; i++) {
      p.accept(`match:m${i}`, 1, 'all');
      if (i % 1000 === 0) p.accept('match:kept', 2 + i, 'all');
    }
    p.seed({ 'match:seeded': 3 });
    expect(p.size).toBe(MAX_STREAMS);
    expect(p.get('match:m0')).toBeUndefined();
    expect(p.get(`match:m${MAX_STREAMS + 4999}`)).toBe(1);
    expect(p.get('match:kept')).toBeDefined();
    expect(p.get('match:seeded')).toBe(3);
  });

  it('forgets a stream so that it starts again from the next event or seed', () => {
    const p = new Positions();
    p.accept('match:a', 5, 'all');
    p.forget('match:a');
    expect(p.get('match:a')).toBeUndefined();
    expect(p.accept('match:a', 9, 'all')).toBe('next');
  });

  it('keeps the newest timestamp as since (by time, not by arrival)', () => {
    const p = new Positions();
    expect(p.since).toBeUndefined();
    p.accept('match:a', 1, 'all', '2026-01-01T10:00:02.000Z');
    p.accept('match:b', 1, 'all', '2026-01-01T10:00:01.000Z');
    expect(p.since).toBe('2026-01-01T10:00:02.000Z');
    p.noteTime('not a date');
    expect(p.since).toBe('2026-01-01T10:00:02.000Z');
  });

  describe('resume map', () => {
    it('holds at most N streams, the most recently active first', () => {
      const p = new Positions();
      for (let i = 1; i <= 10; i++) p.accept(`match:m${i}`, i, 'all');
      p.accept('match:m2', 20, 'all'); // m2 becomes the most recent
      const resume = p.resume(new Set(['all']), 3);
      expect(Object.keys(resume)).toEqual(['match:m2', 'match:m10', 'match:m9']);
      expect(resume['match:m2']).toBe(20);
    });

    it('only includes streams of channels still subscribed (and seeded ones not seen yet)', () => {
      const p = new Positions();
      p.accept('match:a', 1, 'match:a');
      p.accept('match:b', 2, 'league:epl');
      p.accept('match:c', 3, 'all');
      p.seed({ 'match:s': 4 });
      expect(p.resume(new Set(['match:a', 'all']), 100)).toEqual({ 'match:s': 4, 'match:c': 3, 'match:a': 1 });
    });

    it('drops a channel’s streams when it is unsubscribed', () => {
      const p = new Positions();
      p.accept('match:a', 1, 'match:a');
      p.accept('match:b', 2, 'league:epl');
      p.forgetChannel('league:epl');
      expect(p.get('match:b')).toBeUndefined();
      expect(p.resume(new Set(['match:a', 'league:epl']), 100)).toEqual({ 'match:a': 1 });
    });

    it('follows a stream to the channel its last event came on', () => {
      const p = new Positions();
      p.accept('match:a', 1, 'all');
      p.accept('match:a', 2, 'match:a');
      expect(p.resume(new Set(['all']), 100)).toEqual({});
      expect(p.resume(new Set(['match:a']), 100)).toEqual({ 'match:a': 2 });
    });

    it('lists unattached (seeded, never seen) streams for a channel added while connected', () => {
      const p = new Positions();
      p.seed({ 'match:s': 4, 'match:t': 5 });
      p.accept('match:t', 6, 'all');
      expect(p.unattached(100)).toEqual({ 'match:s': 4 });
      expect(p.unattached(0)).toEqual({});
    });
  });
});
