import { Router } from 'express';
import type { Registry } from 'prom-client';

export interface Probe {
  (): { ok: boolean; detail?: Record<string, unknown> };
}

/** /healthz (liveness), /readyz (readiness) and /metrics, the same on every service. */
export function opsRoutes(registry: Registry, health: Probe, ready: Probe): Router {
  const router = Router();
  const answer = (probe: Probe) => (_req: unknown, res: import('express').Response) => {
    const result = probe();
    res.status(result.ok ? 200 : 503).json({ status: result.ok ? 'ok' : 'unavailable', ...result.detail });
  };
  router.get('/healthz', answer(health));
  router.get('/readyz', answer(ready));
  router.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  return router;
}
