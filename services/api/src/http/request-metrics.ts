import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { ApiMetrics } from '../metrics';

/**
 * Counts and times every answer by its route pattern (`/api/notifications/:id/read`, never
 * the id itself), so label sets stay bounded; unmatched paths share one label.
 */
export function requestMetrics(metrics: ApiMetrics): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    const stop = metrics.duration.startTimer();
    res.once('finish', () => {
      const pattern = (req.route as { path?: unknown } | undefined)?.path;
      const route = typeof pattern === 'string' ? pattern : 'unmatched';
      const method = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'].includes(req.method) ? req.method : 'OTHER';
      stop({ method, route });
      metrics.requests.inc({ method, route, status: String(res.statusCode) });
    });
    next();
  };
}
