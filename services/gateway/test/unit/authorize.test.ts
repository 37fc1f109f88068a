import { authorizeChannel, ownersNeeded } from '../../src/sessions/authorize';

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

describe('authorizeChannel: purchase:<id> by its buyer', () => {
  const user = (userId: string | undefined, roles: string[] = []) => ({ userId, roles: new Set(roles), expiresAtMs: undefined });
  const owners = new Map([['17', 'alice']]);
  const refused = expect.objectContaining({ code: 'FORBIDDEN_CHANNEL' });

  it('grants it to the buyer and admins only; a purchase not found is refused like another user\'s', () => {
    expect(authorizeChannel(user('alice'), 'purchase:17', owners).kind).toBe('purchase');
    expect(authorizeChannel(user('ops', ['admin']), 'purchase:17').id).toBe('17');
    expect(() => authorizeChannel(user('bob'), 'purchase:17', owners)).toThrow(refused);
    expect(() => authorizeChannel(user('bob', ['service']), 'purchase:17', owners)).toThrow(refused);
    expect(() => authorizeChannel(user(undefined), 'purchase:17', owners)).toThrow(refused);
    // Without the buyer looked up there is no grant: the decision fails closed.
    expect(() => authorizeChannel(user('alice'), 'purchase:17')).toThrow(refused);
    const other = (() => { try { authorizeChannel(user('bob'), 'purchase:17', owners); } catch (e) { return e as Error; } })();
    const missing = (() => { try { authorizeChannel(user('bob'), 'purchase:18', owners); } catch (e) { return e as Error; } })();
    expect(missing!.message).toBe(other!.message.replace('17', '18'));
  });

  it('names the purchases whose buyers a decision needs: none for admins or tokens without a user', () => {
    const names = ['purchase:17', 'match:1', 'purchase:', 'purchase:x y', 'user:alice', 'purchase:abc'];
    expect(ownersNeeded(user('alice'), names)).toEqual(['17', 'abc']);
    expect(ownersNeeded(user('ops', ['admin']), names)).toEqual([]);
    expect(ownersNeeded(user(undefined), names)).toEqual([]);
  });
});
