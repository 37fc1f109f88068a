#!/usr/bin/env node
/**
 * notify-listener: forwards Postgres NOTIFY to Redis. Composition root:
 * config → logger → start (connect in the background) → signals.
 */
import { createLogger, fatal, onShutdown } from '@matchcast/runtime';
import { loadConfig } from './config';
import { startListener } from './listener';

export { loadConfig, type Config } from './config';
export { startListener, type RunningListener, type ListenerStatus } from './listener';

export async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    fatal(createLogger('notify-listener'), error);
  }
  const logger = createLogger('notify-listener', config.logLevel);
  const listener = await startListener(config, logger);
  onShutdown(logger, config.shutdownTimeoutMs, () => listener.close());
}

if (require.main === module) {
  main().catch((error: unknown) => fatal(createLogger('notify-listener'), error));
}
