import { authorizeChannel } from '../../src/sessions/authorize';

describe('authorizeChannel: the one decision for every channel access', () => {
  const user = (userId: string | undefined, roles: string[] = []) => ({ userId, roles: new Set(roles), expiresAtMs: undefined });

  it('grants user:<id> only to that user, or an admin', () => {
    expect(authorizeChannel(user('u1'), 'user:u1').kind).toBe('user');
    expect(() => authorizeChannel(user('u2'), 'user:u1')).toThrow(expect.objectContaining({ code: 'FORBIDDEN_CHANNEL' }));
    expect(() => authorizeChannel(user(undefined), 'user:u1')).toThrow(expect.objectContaining({ code: 'FORBIDDEN_CHANNEL' }));
    expect(() => authorizeChannel(user('u2', ['service']), 'user:u1')).toThrow(expect.objectContaining({ code: 'FORBIDDEN_CHANNEL' }));
    expect(authorizeChannel(user('ops', ['admin']), 'user:u1').id).toBe('u1');
  });

  it('opens public channels to anyone and refuses malformed names with their own codes', () => {
    for (const name of ['match:1', 'league:l', 'team:t', 'live:all', 'all']) expect(authorizeChannel(user(undefined), name).name).toBe(name);
    expect(() => authorizeChannel(user('u1'), 'bogus:1')).toThrow(expect.objectContaining({ code: 'UNKNOWN_CHANNEL' }));
    expect(() => authorizeChannel(user('u1'), 'match:')).toThrow(expect.objectContaining({ code: 'INVALID_CHANNEL' }));
  });
});
