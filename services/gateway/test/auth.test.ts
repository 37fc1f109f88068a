import { createHmac } from 'node:crypto';
import { parseChannel } from '@matchcast/protocol';
import { authenticate, authorizeChannel, verifyToken } from '../src/auth';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
function sign(claims: Record<string, unknown>, secret = 's3cret', alg = 'HS256'): string {
  const head = `${b64({ alg, typ: 'JWT' })}.${b64(claims)}`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}

describe('auth', () => {
  it('accepts a valid HS256 token and returns its subject', () => {
    expect(verifyToken(sign({ sub: 'u1', exp: Date.now() / 1000 + 60 }), 's3cret')).toEqual({ userId: 'u1' });
  });

  it.each([
    ['a wrong signature', sign({ sub: 'u1' }, 'other')],
    ['an expired token', sign({ sub: 'u1', exp: Date.now() / 1000 - 1 })],
    ['alg none', `${b64({ alg: 'none' })}.${b64({ sub: 'u1' })}.`],
    ['no subject', sign({})],
    ['garbage', 'not-a-token'],
  ])('rejects %s with UNAUTHORIZED', (_name, token) => {
    expect(() => verifyToken(token, 's3cret')).toThrow(expect.objectContaining({ code: 'UNAUTHORIZED' }));
  });

  it('lets anonymous clients in unless a token is required', () => {
    expect(authenticate({ jwtSecret: 's3cret', requireToken: false }, undefined, null)).toEqual({ userId: undefined });
    expect(() => authenticate({ jwtSecret: 's3cret', requireToken: true }, undefined, null)).toThrow(
      expect.objectContaining({ code: 'UNAUTHORIZED' }),
    );
    expect(authenticate({ jwtSecret: 's3cret', requireToken: true }, `Bearer ${sign({ sub: 'u9' })}`, null)).toEqual({ userId: 'u9' });
  });

  it('grants user:<id> only to that user', () => {
    expect(() => authorizeChannel({ userId: 'u1' }, parseChannel('user:u1'))).not.toThrow();
    expect(() => authorizeChannel({ userId: 'u2' }, parseChannel('user:u1'))).toThrow(
      expect.objectContaining({ code: 'FORBIDDEN_CHANNEL' }),
    );
    expect(() => authorizeChannel({ userId: undefined }, parseChannel('match:1'))).not.toThrow();
  });
});
