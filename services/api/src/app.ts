import { TokenVerifier } from '@matchcast/auth';
import { OriginPolicy, errorResponder, notFound, requestFailure, type Logger } from '@matchcast/runtime';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Pool } from 'pg';
import type { Config } from './config';
import { authenticate, optionallyAuthenticate } from './http/auth';
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
  app.set('query parser', 'simple');
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
  const authenticated = authenticate(verifier);
  if (config.devSignIn.enabled) {
    app.use(devRoutes({ auth: config.auth, secret: config.auth.jwtSecret!, ttlMs: config.devSignIn.ttlMs }));
  }
  app.use(meRoutes(authenticated, new FollowStore(db, MAX_FOLLOWS_PER_USER)));
  app.use(notificationRoutes(authenticated, new NotificationStore(db), metrics));
  app.use(leagueRoutes(authenticated, optionallyAuthenticate(verifier), new LeagueStore(db)));
  app.use(purchaseRoutes(authenticated, new PurchaseStore(db)));
  app.use(announcementRoutes(authenticated, optionallyAuthenticate(verifier), new AnnouncementStore(db)));
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
