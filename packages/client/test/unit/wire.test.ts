import { ErrorCodes, TOPICS, parseChannel } from '@matchcast/protocol';
import { CHANNEL_PATTERN, ERROR_CODES } from '../../src/wire';

describe('wire types stay in step with @matchcast/protocol', () => {
  it('knows exactly the server’s error codes', () => {
    expect([...ERROR_CODES].sort()).toEqual(Object.keys(ErrorCodes).sort());
  });

  it('uses the server’s close codes for draining, token expiry and forbidden', () => {
    expect(ErrorCodes.SERVER_DRAINING.close).toBe(1012);
    expect(ErrorCodes.TOKEN_EXPIRED.close).toBe(4001);
    expect(ErrorCodes.FORBIDDEN_CHANNEL.close).toBe(4003);
  });

  it('accepts the channel names the server accepts', () => {
    for (const name of ['all', 'live:all', 'match:abc', 'team:ars', 'league:epl', 'user:u-1.x_2', `match:${'a'.repeat(64)}`]) {
      expect(CHANNEL_PATTERN.test(name)).toBe(true);
    }
    for (const name of ['', 'live', 'live:x', 'match:', 'match:a b', 'foo:bar', `match:${'a'.repeat(65)}`, 'all:x']) {
      expect(CHANNEL_PATTERN.test(name)).toBe(false);
    }
  });

  it('accepts topic channels exactly as the server does', () => {
    const bases = ['all', 'live:all', 'match:m1', 'team:t1', 'league:l1', 'user:u1', 'purchase:p1'];
    const names = [...bases, ...bases.flatMap((base) => [...TOPICS, 'nope', ''].map((topic) => `${base}/${topic}`)), 'league:l1/results/live'];
    for (const name of names) {
      let server = true;
      try {
        parseChannel(name);
      } catch {
        server = false;
      }
      expect([name, CHANNEL_PATTERN.test(name)]).toEqual([name, server]);
    }
  });
});
