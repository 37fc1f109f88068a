import { mintToken, type AuthConfig } from '@matchcast/auth';
import { ID_PATTERN } from '@matchcast/protocol';
import { Router, type Request, type Response } from 'express';
import { FieldErrors, objectBody, rejectUnknownFields } from '../validate/fields';

/**
 * The demo page's sign-in choices, with the roles the page asks for when signing in as each (the
 * organiser writes announcements). Any valid id may sign in; these are the ones it offers.
 */
export const DEMO_USERS = [
  { id: 'alice', name: 'Alice', roles: [] },
  { id: 'bob', name: 'Bob', roles: [] },
  { id: 'carol', name: 'Carol', roles: [] },
  { id: 'organiser', name: 'Organiser (admin)', roles: ['admin'] },
] as const;

const ROLE_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/;
const MAX_ROLES = 8;

export interface DevSignInOptions {
  readonly auth: AuthConfig;
  /** The HS256 secret tokens are signed with (AUTH_JWT_SECRET; config guarantees it is set). */
  readonly secret: string;
  readonly ttlMs: number;
}

/**
 * The development sign-in (DEV_SIGN_IN=true only; otherwise these routes do not exist and
 * answer 404 like any unknown path): a token for whoever asks, with the roles asked for.
 * matchcast is not an identity provider; this only makes the demo and manual tests possible.
 */
export function devRoutes(options: DevSignInOptions): Router {
  const router = Router();
  const ttlSeconds = Math.max(1, Math.round(options.ttlMs / 1000));

  router.get('/api/dev/users', (_req: Request, res: Response) => {
    res.json({ users: DEMO_USERS });
  });

  router.post('/api/dev/sign-in', async (req: Request, res: Response) => {
    const { user, roles } = signInBody(req.body);
    const token = await mintToken(options.secret, {
      subject: user,
      roles,
      ttlSeconds,
      rolesClaim: options.auth.rolesClaim,
      ...(options.auth.issuer ? { issuer: options.auth.issuer } : {}),
      ...(options.auth.audience ? { audience: options.auth.audience } : {}),
    });
    res.json({ token, user, roles, expires_at: new Date(Date.now() + ttlSeconds * 1000).toISOString() });
  });

  return router;
}

function signInBody(raw: unknown): { user: string; roles: string[] } {
  const body = objectBody(raw);
  const errors = new FieldErrors();
  rejectUnknownFields(body, ['user', 'roles'], errors);
  const { user, roles = [] } = body;
  if (typeof user !== 'string' || !ID_PATTERN.test(user)) errors.add('user', `is required: a user id matching ${ID_PATTERN.source}`);
  const roleList = Array.isArray(roles) ? roles : [];
  if (!Array.isArray(roles) || roleList.length > MAX_ROLES || !roleList.every((role) => typeof role === 'string' && ROLE_PATTERN.test(role))) {
    errors.add('roles', `must be an array of at most ${MAX_ROLES} role names matching ${ROLE_PATTERN.source}`);
  }
  errors.throwIfAny();
  return { user: user as string, roles: [...new Set(roleList as string[])] };
}
