import { readAuthConfig, type AuthConfig } from '@matchcast/auth';
import { ConfigError, EnvReader, LOG_LEVELS, distinctPorts, POSTGRES_PROTOCOLS, REDIS_PROTOCOLS, parseAllowedOrigins } from '@matchcast/runtime';

export interface Config {
  /** The REST API (/api/…). Port 0 picks a free one (tests). */
  readonly port: number;
  readonly host: string;
  /** /healthz /readyz /metrics, on their own port so the ingress never exposes them. */
  readonly opsPort: number;
  readonly databaseUrl: string;
  readonly pgPoolMax: number;
  /** Where the gateways' presence snapshots are (admin views); unset: those routes answer 503. */
  readonly redisUrl: string | undefined;
  readonly auth: AuthConfig;
  /** The development sign-in (POST /api/dev/sign-in): mints tokens for anyone who asks. Never in production. */
  readonly devSignIn: { readonly enabled: boolean; readonly ttlMs: number };
  /** Browser origins allowed (CORS); undefined = any origin. */
  readonly allowedOrigins: readonly string[] | undefined;
  /** Proxies in front whose X-Forwarded-For entries are trusted (the client address in logs). */
  readonly trustedProxyHops: number;
  readonly maxBodyBytes: number;
  /** TCP connections the REST port holds at once (capConnections); one more is closed at accept. */
  readonly maxConnections: number;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  readonly shutdownTimeoutMs: number;
}

/** Reads the API's configuration once; a bad value fails with the variable's name. */
export function loadConfig(env = new EnvReader()): Config {
  const auth = readAuthConfig(env);
  const devSignIn = env.bool('DEV_SIGN_IN', false);
  const devSignInTtlMs = env.durationMs('DEV_SIGN_IN_TTL_MS', 3_600_000, { min: 1000 });
  // The sign-in mints HS256 tokens with the shared secret, which the verifier must accept.
  if (devSignIn && !auth.jwtSecret) throw new ConfigError('DEV_SIGN_IN', 'needs AUTH_JWT_SECRET (it signs the tokens it mints)');
  const port = env.int('PORT', 8090, { min: 0, max: 65_535 });
  const opsPort = env.int('OPS_PORT', 8091, { min: 0, max: 65_535 });
  distinctPorts({ PORT: port, OPS_PORT: opsPort });
  return Object.freeze({
    port,
    host: env.host('HOST', '0.0.0.0'),
    opsPort,
    databaseUrl: env.requiredUrl('DATABASE_URL', POSTGRES_PROTOCOLS),
    pgPoolMax: env.int('PG_POOL_MAX', 10, { min: 1, max: 200 }),
    redisUrl: env.url('REDIS_URL', REDIS_PROTOCOLS),
    auth,
    devSignIn: Object.freeze({ enabled: devSignIn, ttlMs: devSignInTtlMs }),
    allowedOrigins: parseAllowedOrigins(env.list('ALLOWED_ORIGINS', [])),
    trustedProxyHops: env.int('TRUSTED_PROXY_HOPS', 0, { max: 10 }),
    maxBodyBytes: env.int('API_MAX_BODY_BYTES', 262_144, { min: 1024, max: 16_777_216 }),
    maxConnections: env.int('API_MAX_CONNECTIONS', 5000, { min: 1, max: 100_000 }),
    logLevel: env.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    shutdownTimeoutMs: env.durationMs('SHUTDOWN_TIMEOUT_MS', 10_000, { min: 100 }),
  });
}
