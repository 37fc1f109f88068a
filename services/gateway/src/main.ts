import { createLogger, fatal, onShutdown } from '@matchcast/runtime';
import { loadConfig } from './config';
import { startGateway } from './gateway';

async function main(): Promise<void> {
  const bootLogger = createLogger('gateway');
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    fatal(bootLogger, error);
  }
  const logger = createLogger('gateway', config.logLevel);
  try {
    const gateway = await startGateway(config, logger);
    onShutdown(logger, config.shutdownTimeoutMs, () => gateway.drain());
  } catch (error) {
    fatal(logger, error);
  }
}

void main();
