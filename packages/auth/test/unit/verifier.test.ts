import { createHmac } from 'node:crypto';
import { ConfigError } from '@matchcast/runtime';
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose';
import { TokenVerifier, type AuthConfig } from '../../src';

const SECRET = 'a-shared-secret-of-at-least-32-bytes!';
const config = (overrides: Partial<AuthConfig> = {}): AuthConfig => ({
  jwtSecret: SECRET,
  keys: undefined,
  jwksUrl: undefined,
  issuer: undefined,
  audience: undefined,
  clockToleranceMs: 0,
  rolesClaim: 'roles',
  requireToken: false,
  ...overrides,
});
const now = () => Math.floor(Date.now() / 1000);
const hs256 = (claims: Record<string, unknown>, secret = SECRET, kid?: string) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256', ...(kid ? { kid } : {}) }).sign(new TextEncoder().encode(secret));

/** A JWT put together by hand, for claims and headers a library refuses to sign. */
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
function handMade(header: Record<string, unknown>, claims: Record<string, unknown>, secret = SECRET): string {
  const head = `${b64(header)}.${b64(claims)}`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}

describe('TokenVerifier', () => {
  it('accepts a valid HS256 token: subject, roles and expiry', async () => {
    const exp = now() + 60;
    const identity = await new TokenVerifier(config()).verify(await hs256({ sub: 'u1', exp, roles: ['admin', 7] }));
    expect(identity.userId).toBe('u1');
    expect([...identity.roles]).toEqual(['admin']);
    expect(identity.expiresAtMs).toBe(exp * 1000);
  });

  it('reads roles from a configurable claim, also as a space-separated string', async () => {
    const verifier = new TokenVerifier(config({ rolesClaim: 'https://app/roles' }));
    const identity = await verifier.verify(await hs256({ sub: 'u1', exp: now() + 60, 'https://app/roles': 'service admin' }));
    expect([...identity.roles].sort()).toEqual(['admin', 'service']);
  });

  it('keeps the roles it acts on wherever the claim lists them: admin after 40 of the app\'s own roles is still admin', async () => {
    const own = Array.from({ length: 40 }, (_, i) => `app:perm${i}`);
    const verifier = new TokenVerifier(config());
    for (const roles of [[...own, 'admin', 'service'], [...own, 'admin', 'service'].join(' ')]) {
      const identity = await verifier.verify(await hs256({ sub: 'u1', exp: now() + 60, roles }));
      expect(identity.roles.has('admin') && identity.roles.has('service')).toBe(true);
      expect(identity.roles.size).toBe(34); // the others stay capped at 32
    }
  });

  it.each([
    ['a wrong signature', () => hs256({ sub: 'u1', exp: now() + 60 }, 'another-secret-that-is-32-bytes-long!!')],
    ['no exp', () => hs256({ sub: 'u1' })],
    ['exp as a string ("1" never expired before)', async () => handMade({ alg: 'HS256' }, { sub: 'u1', exp: '1' })],
    ['alg none', async () => `${b64({ alg: 'none' })}.${b64({ sub: 'u1', exp: now() + 60 })}.`],
    ['alg HS512', async () => `${b64({ alg: 'HS512' })}.${b64({ sub: 'u1', exp: now() + 60 })}.x`],
    ['no subject', () => hs256({ exp: now() + 60 })],
    ['a subject longer than 64 characters', () => hs256({ sub: 'x'.repeat(65), exp: now() + 60 })],
    ['a subject with a NUL (Postgres refuses it)', () => hs256({ sub: 'a\u0000b', exp: now() + 60 })],
    ['a subject with a lone surrogate', () => hs256({ sub: 'a\ud800b', exp: now() + 60 })],
    ['an exp beyond any Date (year 275760)', () => hs256({ sub: 'u1', exp: 1e15 })],
    ['not valid yet', () => hs256({ sub: 'u1', exp: now() + 120, nbf: now() + 60 })],
    ['garbage', async () => 'not-a-token'],
  ])('rejects %s with UNAUTHORIZED', async (_name, make) => {
    await expect(new TokenVerifier(config()).verify(await make())).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('rejects an expired token with TOKEN_EXPIRED, within the clock tolerance it still passes', async () => {
    const token = await hs256({ sub: 'u1', exp: now() - 3 });
    await expect(new TokenVerifier(config()).verify(token)).rejects.toMatchObject({ code: 'TOKEN_EXPIRED' });
    await expect(new TokenVerifier(config({ clockToleranceMs: 10_000 })).verify(token)).resolves.toMatchObject({ userId: 'u1' });
  });

  it('checks iss and aud when configured', async () => {
    const verifier = new TokenVerifier(config({ issuer: 'https://id.example', audience: 'matchcast' }));
    const good = await hs256({ sub: 'u1', exp: now() + 60, iss: 'https://id.example', aud: 'matchcast' });
    await expect(verifier.verify(good)).resolves.toMatchObject({ userId: 'u1' });
    for (const claims of [{ iss: 'https://evil.example', aud: 'matchcast' }, { iss: 'https://id.example', aud: 'other' }, {}]) {
      await expect(verifier.verify(await hs256({ sub: 'u1', exp: now() + 60, ...claims }))).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    }
  });

  it('picks keys by kid: RS256 and ES256 public keys and HS256 secrets side by side (rotation)', async () => {
    const rsa = await generateKeyPair('RS256');
    const ec = await generateKeyPair('ES256');
    const oldSecret = 'the-previous-secret-still-32-bytes-long';
    const keys: JWK[] = [
      { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256' },
      { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256' },
      { kty: 'oct', k: Buffer.from(oldSecret).toString('base64url'), kid: 'hs-old', alg: 'HS256' },
    ];
    const verifier = new TokenVerifier(config({ keys: { keys } }));
    const claims = { sub: 'u1', exp: now() + 60 };
    const rs = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' }).sign(rsa.privateKey);
    const es = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'ec-1' }).sign(ec.privateKey);
    for (const token of [rs, es, await hs256(claims, oldSecret, 'hs-old'), await hs256(claims)]) {
      await expect(verifier.verify(token)).resolves.toMatchObject({ userId: 'u1' });
    }
    // A token signed by the RSA key but naming the EC key's kid, or an unknown kid, fails.
    const swapped = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'ec-1' }).sign(rsa.privateKey);
    await expect(verifier.verify(swapped)).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    const stranger = await generateKeyPair('RS256');
    const unknown = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'rsa-2' }).sign(stranger.privateKey);
    await expect(verifier.verify(unknown)).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('refuses weak or private key material at start-up, naming the variable', () => {
    expect(() => new TokenVerifier(config({ jwtSecret: 'short' }))).toThrow(ConfigError);
    expect(() => new TokenVerifier(config({ jwtSecret: 'short' }))).toThrow(/AUTH_JWT_SECRET/);
    expect(() => new TokenVerifier(config({ keys: { keys: [{ kty: 'oct', k: 'c2hvcnQ', kid: 'a' }] } }))).toThrow(/AUTH_JWT_KEYS/);
    expect(() => new TokenVerifier(config({ keys: { keys: [{ kty: 'oct', k: Buffer.from(SECRET).toString('base64url') }] } }))).toThrow(/kid/);
  });

  it('lets anonymous clients in unless a token is required; Bearer wins over ?token=', async () => {
    expect((await new TokenVerifier(config()).authenticate(undefined, null)).userId).toBeUndefined();
    await expect(new TokenVerifier(config({ requireToken: true })).authenticate(undefined, null)).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    const verifier = new TokenVerifier(config({ requireToken: true }));
    const bearer = await hs256({ sub: 'from-header', exp: now() + 60 });
    expect((await verifier.authenticate(`Bearer ${bearer}`, await hs256({ sub: 'from-query', exp: now() + 60 }))).userId).toBe('from-header');
    expect((await verifier.authenticate(undefined, bearer)).userId).toBe('from-header');
  });

  it('never puts the token into an error message', async () => {
    const token = await hs256({ sub: 'u1', exp: now() + 60 }, 'another-secret-that-is-32-bytes-long!!');
    const error = await new TokenVerifier(config()).verify(token).catch((e: Error) => e);
    expect(String((error as Error).message)).not.toContain(token.split('.')[2]);
  });
});
