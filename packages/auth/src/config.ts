import { ConfigError, type EnvReader } from '@matchcast/runtime';
import type { JSONWebKeySet } from 'jose';
import { validateKeys, type AuthConfig } from './verifier';

/** The AUTH_* variables every service that verifies tokens reads (docs/configuration.md). */
export function readAuthConfig(env: EnvReader): AuthConfig {
  const config: AuthConfig = {
    jwtSecret: env.optionalString('AUTH_JWT_SECRET'),
    keys: jwks(env, 'AUTH_JWT_KEYS'),
    jwksUrl: env.url('AUTH_JWKS_URL', ['https:', 'http:']),
    issuer: env.optionalString('AUTH_JWT_ISSUER'),
    audience: env.optionalString('AUTH_JWT_AUDIENCE'),
    clockToleranceMs: env.int('AUTH_CLOCK_TOLERANCE_MS', 5000, { max: 300_000 }),
    rolesClaim: env.string('AUTH_ROLES_CLAIM', 'roles'),
    requireToken: env.bool('AUTH_REQUIRED', false),
  };
  validateKeys(config);
  if (config.requireToken && !hasKeys(config)) {
    throw new ConfigError('AUTH_REQUIRED', 'needs AUTH_JWT_SECRET, AUTH_JWT_KEYS or AUTH_JWKS_URL');
  }
  return config;
}

export function hasKeys(config: Pick<AuthConfig, 'jwtSecret' | 'keys' | 'jwksUrl'>): boolean {
  return Boolean(config.jwtSecret || config.keys || config.jwksUrl);
}

/** A JWKS given inline as JSON: {"keys":[{"kid":…,"kty":…}, …]}. */
function jwks(env: EnvReader, name: string): JSONWebKeySet | undefined {
  const text = env.optionalString(name);
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ConfigError(name, 'must be a JWKS in JSON ({"keys":[…]})');
  }
  const keys = (value as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0 || !keys.every((key) => key && typeof key === 'object')) {
    throw new ConfigError(name, 'must be a JWKS in JSON ({"keys":[…]}) with at least one key');
  }
  return value as JSONWebKeySet;
}
