import { ProtocolError, isStorableText } from '@matchcast/protocol';
import { ConfigError } from '@matchcast/runtime';
import { ROLES } from './roles';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';

/** Who a connection is: a verified token's subject and roles, or anonymous. */
export interface Identity {
  readonly userId: string | undefined;
  readonly roles: ReadonlySet<string>;
  /** When the token stops being valid (ms since the epoch); undefined for anonymous clients. */
  readonly expiresAtMs: number | undefined;
}

export const ANONYMOUS: Identity = Object.freeze({ userId: undefined, roles: new Set<string>(), expiresAtMs: undefined });

export interface AuthConfig {
  /** HS256 shared secret for tokens without a `kid` (or whose `kid` is not in `keys`). */
  jwtSecret: string | undefined;
  /** Keys by `kid` (a JWKS): several at once for rotation; oct (HS256), RSA (RS256), EC (ES256). */
  keys: JSONWebKeySet | undefined;
  /** Remote JWKS of the identity provider, fetched and cached by jose. */
  jwksUrl: string | undefined;
  issuer: string | undefined;
  audience: string | undefined;
  clockToleranceMs: number;
  rolesClaim: string;
  requireToken: boolean;
}

const ALGORITHMS = ['HS256', 'RS256', 'ES256'];
/** RFC 7518 §3.2: an HS256 key must be at least as long as the hash output. */
export const MIN_HS_SECRET_BYTES = 32;
const MAX_ROLES = 32;

/** Checks key material at start-up, so a weak or malformed key fails there with the variable's name. */
export function validateKeys(config: Pick<AuthConfig, 'jwtSecret' | 'keys'>): void {
  if (config.jwtSecret !== undefined && Buffer.byteLength(config.jwtSecret) < MIN_HS_SECRET_BYTES) {
    throw new ConfigError('AUTH_JWT_SECRET', `must be at least ${MIN_HS_SECRET_BYTES} bytes`);
  }
  for (const key of config.keys?.keys ?? []) {
    if (typeof key.kid !== 'string' || key.kid === '') throw new ConfigError('AUTH_JWT_KEYS', 'every key needs a "kid"');
    if (key.kty === 'oct' && Buffer.from(String(key.k ?? ''), 'base64url').length < MIN_HS_SECRET_BYTES) {
      throw new ConfigError('AUTH_JWT_KEYS', `oct key "${key.kid}" must be at least ${MIN_HS_SECRET_BYTES} bytes`);
    }
    if (key.kty !== 'oct' && 'd' in key) throw new ConfigError('AUTH_JWT_KEYS', `key "${key.kid}" is a private key; give the public key`);
  }
}

/**
 * Verifies the JWTs of the app matchcast serves (it is not an identity provider), with jose:
 * HS256 / RS256 / ES256 only (never `none`), `exp` and `sub` required, optional `iss` / `aud`,
 * a clock tolerance, and keys chosen by `kid` from a local JWKS, the shared secret or a remote
 * JWKS. Token text never appears in errors or logs.
 */
export class TokenVerifier {
  private readonly getKey: JWTVerifyGetKey | undefined;

  constructor(private readonly config: AuthConfig) {
    validateKeys(config);
    // jose's local JWKS holds public keys only; shared (oct) keys are looked up by kid here.
    const all = config.keys?.keys ?? [];
    const shared = new Map(all.filter((key) => key.kty === 'oct').map((key) => [key.kid, Buffer.from(String(key.k), 'base64url')]));
    const publicKeys = all.filter((key) => key.kty !== 'oct');
    const local = publicKeys.length > 0 ? createLocalJWKSet({ keys: publicKeys }) : undefined;
    const remote = config.jwksUrl
      ? createRemoteJWKSet(new URL(config.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000, cacheMaxAge: 600_000 })
      : undefined;
    const secret = config.jwtSecret === undefined ? undefined : new TextEncoder().encode(config.jwtSecret);
    if (local || remote || secret || shared.size > 0) {
      this.getKey = async (header, token) => {
        if (header.kid !== undefined) {
          const sharedKey = header.alg === 'HS256' ? shared.get(header.kid) : undefined;
          if (sharedKey) return sharedKey;
          if (local) {
            try {
              return await local(header, token);
            } catch (error) {
              if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
            }
          }
        }
        if (secret && header.alg === 'HS256') return secret;
        if (remote) return remote(header, token);
        throw new errors.JWKSNoMatchingKey();
      };
    }
  }


  /** The identity of a request: a token from `Authorization: Bearer …`, else `?token=` (browsers can't set WS headers). */
  async authenticate(authorization: string | undefined, queryToken: string | null | undefined): Promise<Identity> {
    // The scheme is case-insensitive (RFC 9110, 11.1), as the REST endpoints read it: `bearer <token>` was taken for no token.
    const bearer = authorization !== undefined && /^bearer /i.test(authorization) ? authorization.slice(7).trim() : undefined;
    const token = bearer || queryToken || undefined;
    if (!token) {
      if (this.config.requireToken) throw new ProtocolError('UNAUTHORIZED', 'a token is required');
      return ANONYMOUS;
    }
    return this.verify(token);
  }

  /** AUTH_REQUIRED: no anonymous client, on any route or connection. */
  get requiresToken(): boolean {
    return this.config.requireToken;
  }

  /**
   * How long past its `exp` a token is still accepted (AUTH_CLOCK_TOLERANCE_MS, in the whole
   * seconds jose counts): an open connection lives as long, so one the door let in is not
   * closed for an expired token the moment it opens.
   */
  get clockToleranceMs(): number {
    return Math.round(this.config.clockToleranceMs / 1000) * 1000;
  }

  async verify(token: string): Promise<Identity> {
    if (!this.getKey) throw new ProtocolError('UNAUTHORIZED', 'this server does not accept tokens');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.getKey, {
        algorithms: ALGORITHMS,
        requiredClaims: ['exp', 'sub'],
        clockTolerance: this.clockToleranceMs / 1000,
        ...(this.config.issuer ? { issuer: this.config.issuer } : {}),
        ...(this.config.audience ? { audience: this.config.audience } : {}),
      }));
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw new ProtocolError('TOKEN_EXPIRED', undefined, { cause: error });
      const reason = error instanceof errors.JOSEError ? error.code : 'ERR_JWT_INVALID';
      throw new ProtocolError('UNAUTHORIZED', `token rejected (${reason})`, { cause: error });
    }
    // The subject is a key in Postgres queries: text Postgres refuses (NUL) would be a 500 there.
    if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 64 || !isStorableText(payload.sub)) {
      throw new ProtocolError('UNAUTHORIZED', 'token subject must be 1-64 characters of storable text');
    }
    const expiresAtMs = (payload.exp as number) * 1000;
    // Past what a Date holds (year 275760), expiry timers and times in answers would throw.
    if (!(expiresAtMs <= MAX_DATE_MS)) throw new ProtocolError('UNAUTHORIZED', 'token exp is beyond any date');
    return { userId: payload.sub, roles: rolesOf(payload[this.config.rolesClaim]), expiresAtMs };
  }
}

/** The latest time a JavaScript Date holds. */
const MAX_DATE_MS = 8.64e15;

const KNOWN_ROLES: ReadonlySet<string> = new Set(Object.values(ROLES));

/**
 * A roles claim is an array of strings or one space-separated string (OAuth `scope` style).
 * What a connection keeps of it is capped, but not the roles matchcast acts on: an identity
 * provider's token listing `admin` after 32 of the app's own roles was refused as no admin.
 */
function rolesOf(claim: unknown): ReadonlySet<string> {
  const list = typeof claim === 'string' ? claim.split(' ') : Array.isArray(claim) ? claim : [];
  const roles = list.filter((role): role is string => typeof role === 'string' && role.length > 0 && role.length <= 64);
  return new Set([...roles.slice(0, MAX_ROLES), ...roles.filter((role) => KNOWN_ROLES.has(role))]);
}
