import type { Logger } from '@matchcast/runtime';
import type { Pool } from 'pg';
import type { Registry } from 'prom-client';
import type { Config } from '../config';
import { createCanaryMetrics } from '../metrics';
import { DeliveryCanary, type DeliveringCheck } from './canary';
import { canaryWriter } from './write';

export { canarySink } from './sink';
export { DeliveryCanary } from './canary';

/** The gateway's delivery canary as configured, or undefined when CANARY_INTERVAL_MS is 0. Not started. */
export function createCanary(config: Config, db: Pool, delivering: DeliveringCheck, registry: Registry, logger: Logger): DeliveryCanary | undefined {
  if (config.canary.intervalMs === 0) return undefined;
  const options = { gatewayId: config.gatewayId, ...config.canary };
  return new DeliveryCanary(options, canaryWriter(db, config.canary.timeoutMs), delivering, createCanaryMetrics(registry), logger);
}
