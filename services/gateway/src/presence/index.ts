import type { Logger } from '@matchcast/runtime';
import type { Config } from '../config';
import { PresencePublisher } from './publisher';
import type { PresenceClient } from './snapshot';

export { PresencePublisher } from './publisher';

/** The gateway's presence publisher as configured: undefined without Redis or with PRESENCE_INTERVAL_MS 0. Not started. */
export function createPresence(config: Config, clients: () => Iterable<PresenceClient>, logger: Logger): PresencePublisher | undefined {
  if (!config.redisUrl || config.presenceIntervalMs === 0) return undefined;
  const options = {
    gatewayId: config.gatewayId,
    redisUrl: config.redisUrl,
    intervalMs: config.presenceIntervalMs,
    commandTimeoutMs: config.broker.redisCommandTimeoutMs,
  };
  return new PresencePublisher(options, clients, logger);
}
