import { EnvReader } from '@matchcast/runtime';
import { loadConfig } from '../../src/config';

const SECRET = 'a-secret-that-is-at-least-32-bytes-long';
const load = (env: Record<string, string>) => loadConfig(new EnvReader({ DATABASE_URL: 'postgres://u@h/db', ...env }));

describe('api config', () => {
  it('has the documented defaults', () => {
    const config = load({});
    expect(config).toMatchObject({
      port: 8090,
      host: '0.0.0.0',
      opsPort: 8091,
      pgPoolMax: 10,
      devSignIn: { enabled: false, ttlMs: 3_600_000 },
      allowedOrigins: undefined,
      trustedProxyHops: 0,
      maxBodyBytes: 262_144,
      logLevel: 'info',
      shutdownTimeoutMs: 10_000,
    });
    expect(config.auth.rolesClaim).toBe('roles');
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads every variable, whether or not the sign-in is on', () => {
    const env = new EnvReader({ DATABASE_URL: 'postgres://u@h/db' });
    loadConfig(env);
    expect([...env.read.keys()]).toEqual(
      expect.arrayContaining(['PORT', 'HOST', 'OPS_PORT', 'DATABASE_URL', 'PG_POOL_MAX', 'AUTH_JWT_SECRET', 'DEV_SIGN_IN', 'DEV_SIGN_IN_TTL_MS',
        'ALLOWED_ORIGINS', 'TRUSTED_PROXY_HOPS', 'API_MAX_BODY_BYTES', 'API_MAX_CONNECTIONS', 'LOG_LEVEL', 'SHUTDOWN_TIMEOUT_MS']),
    );
  });

  it('enables the development sign-in only with a secret to sign with', () => {
    expect(load({ DEV_SIGN_IN: 'true', AUTH_JWT_SECRET: SECRET, DEV_SIGN_IN_TTL_MS: '60000' }).devSignIn).toEqual({ enabled: true, ttlMs: 60_000 });
    expect(() => load({ DEV_SIGN_IN: 'true' })).toThrow('invalid configuration: DEV_SIGN_IN needs AUTH_JWT_SECRET');
    expect(() => load({ DEV_SIGN_IN: 'true', AUTH_JWKS_URL: 'https://idp.example/jwks' })).toThrow(/DEV_SIGN_IN/);
  });

  it.each([
    [{ DATABASE_URL: '' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'mysql://h/db' }, 'DATABASE_URL'],
    [{ PORT: '70000' }, 'PORT'],
    [{ OPS_PORT: 'x' }, 'OPS_PORT'],
    [{ PG_POOL_MAX: '0' }, 'PG_POOL_MAX'],
    [{ DEV_SIGN_IN: 'maybe' }, 'DEV_SIGN_IN'],
    [{ DEV_SIGN_IN_TTL_MS: '10' }, 'DEV_SIGN_IN_TTL_MS'],
    [{ ALLOWED_ORIGINS: 'https://ok.example,not an origin' }, 'ALLOWED_ORIGINS'],
    [{ TRUSTED_PROXY_HOPS: '11' }, 'TRUSTED_PROXY_HOPS'],
    [{ API_MAX_BODY_BYTES: '10' }, 'API_MAX_BODY_BYTES'],
    [{ AUTH_JWT_SECRET: 'short' }, 'AUTH_JWT_SECRET'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ HOST: '99999' }, 'HOST'],
  ])('refuses %j naming %s', (env, variable) => {
    expect(() => load(env)).toThrow(new RegExp(`invalid configuration: ${variable} `));
  });

  // Before: taken up to 2^53 - 1, a cap no pod reaches (the file limit and memory go first).
  it('bounds API_MAX_CONNECTIONS at 100000, naming it and the range', () => {
    expect(load({ API_MAX_CONNECTIONS: '100000' }).maxConnections).toBe(100_000);
    expect(() => load({ API_MAX_CONNECTIONS: '100001' })).toThrow('invalid configuration: API_MAX_CONNECTIONS must be between 1 and 100000, got 100001');
  });

  // Before: taken, and the second listen() died with EADDRINUSE, naming no variable.
  it('refuses OPS_PORT equal to PORT (0, a free port each, may repeat)', () => {
    expect(() => load({ PORT: '9000', OPS_PORT: '9000' })).toThrow('invalid configuration: OPS_PORT must differ from PORT (both 9000)');
    expect(() => load({ OPS_PORT: '8090' })).toThrow(/OPS_PORT must differ from PORT/);
    expect(load({ PORT: '0', OPS_PORT: '0' })).toMatchObject({ port: 0, opsPort: 0 });
  });

  it('normalizes allowed origins; * allows any', () => {
    expect(load({ ALLOWED_ORIGINS: 'https://app.example:443/, http://localhost:8080' }).allowedOrigins).toEqual(['https://app.example', 'http://localhost:8080']);
    expect(load({ ALLOWED_ORIGINS: '*' }).allowedOrigins).toBeUndefined();
  });
});
