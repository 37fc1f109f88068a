import { TokenVerifier } from '@matchcast/auth';
import { OriginPolicy, closeUnreadBodies, errorResponder, notFound, parseQuery, requestFailure, type Logger } from '@matchcast/runtime';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Pool } from 'pg';
import type { Config } from './config';
import { authenticate, optionallyAuthenticate } from './http/auth';
import { CallerSlots } from './http/caller-slots';
import { jsonBody } from './http/body';
import { databaseErrors } from './http/db-errors';
import { requestMetrics } from './http/request-metrics';
import type { ApiMetrics } from './metrics';
import { adminRoutes } from './routes/admin';
import { announcementRoutes } from './routes/announcements';
import { devRoutes } from './routes/dev';
import { leagueRoutes } from './routes/leagues';
import { meRoutes } from './routes/me';
import { notificationRoutes } from './routes/notifications';
import { purchaseRoutes } from './routes/purchases';
import { AnnouncementStore } from './store/announcements';
import { FollowStore } from './store/follows';
import { LeagueStore } from './store/leagues';
import { NotificationStore } from './store/notifications';
import type { PresenceStore } from './store/presence';
import { PurchaseStore } from './store/purchases';

/** Follows per user: enough for any fan, bounded so one account cannot grow the table without end. */
export const MAX_FOLLOWS_PER_USER = 500;
/** How long a caller's request waits for one of its slots before 429 (as long as one may wait for a pool connection). */
export const CALLER_WAIT_MS = 5000;

/** Requests one caller runs at once: half the pool (at least one), so no caller holds every connection. */
export const slotsPerCaller = (pgPoolMax: number): number => Math.max(1, Math.floor(pgPoolMax / 2));

export interface AppDeps {
  readonly config: Config;
  readonly db: Pool;
  readonly metrics: ApiMetrics;
  readonly logger: Logger;
  /** The gateways' presence in Redis (admin views); undefined without REDIS_URL. */
  readonly presence?: PresenceStore;
}

/** The REST API as an express app (no listening): CORS, JSON bodies, the routes, coded errors. */
export function createApp({ config, db, metrics, logger, presence }: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', parseQuery);
  app.use(closeUnreadBodies);
  app.use(requestMetrics(metrics));
  app.use(
    '/api',
    new OriginPolicy(config.allowedOrigins, {
      methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
      headers: ['Authorization', 'Content-Type'],
    }).middleware(),
  );
  app.use('/api', (_req: Request, res: Response, next: NextFunction) => {
    // Per-user answers: never cached by a browser or a shared proxy.
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  app.use(jsonBody(config.maxBodyBytes));

  const verifier = new TokenVerifier(config.auth);
  const slots = new CallerSlots(slotsPerCaller(config.pgPoolMax), CALLER_WAIT_MS);
  const authenticated = authenticate(verifier, slots);
  const optionally = optionallyAuthenticate(verifier, slots, config.trustedProxyHops);
  if (config.devSignIn.enabled) {
    app.use(devRoutes({ auth: config.auth, secret: config.auth.jwtSecret!, ttlMs: config.devSignIn.ttlMs }));
  }
  app.use(meRoutes(authenticated, new FollowStore(db, MAX_FOLLOWS_PER_USER)));
  app.use(notificationRoutes(authenticated, new NotificationStore(db), metrics));
  app.use(leagueRoutes(authenticated, optionally, new LeagueStore(db)));
  app.use(purchaseRoutes(authenticated, new PurchaseStore(db)));
  app.use(announcementRoutes(authenticated, optionally, new AnnouncementStore(db)));
  app.use(adminRoutes(authenticated, presence));
  app.use(notFound);

  app.use(databaseErrors(logger));
  app.use((error: unknown, _req: Request, _res: Response, next: NextFunction) => {
    const failure = requestFailure(error);
    metrics.errors.inc({ code: failure.code });
    next(failure);
  });
  app.use(errorResponder(logger));
  return app;
}
