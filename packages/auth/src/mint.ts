import { SignJWT } from 'jose';

export interface MintOptions {
  subject: string;
  roles?: readonly string[];
  ttlSeconds?: number;
  rolesClaim?: string;
  issuer?: string;
  audience?: string;
}

/**
 * Signs an HS256 token with the shared secret: the development sign-in and `make token` use it.
 * matchcast is not an identity provider; in production the app's own provider issues tokens.
 */
export async function mintToken(secret: string, options: MintOptions): Promise<string> {
  const jwt = new SignJWT({ [options.rolesClaim ?? 'roles']: [...(options.roles ?? [])] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.subject)
    .setIssuedAt()
    .setExpirationTime(`${options.ttlSeconds ?? 3600}s`);
  if (options.issuer) jwt.setIssuer(options.issuer);
  if (options.audience) jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}
