import type { Logger } from 'pino';
import { createLogger } from './logger';

/**
 * Runs `stop` once on SIGTERM or SIGINT; exits 0 when it finishes, 1 when it throws,
 * and 1 anyway after `deadlineMs` so a stuck close never outlives the grace period.
 */
export function onShutdown(logger: Logger, deadlineMs: number, stop: (signal: string) => Promise<void>): void {
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, deadline_ms: deadlineMs }, 'shutting down');
    setTimeout(() => {
      logger.error({ deadline_ms: deadlineMs }, 'shutdown deadline passed; exiting');
      process.exit(1);
    }, deadlineMs).unref();
    stop(signal).then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handle);
  process.on('SIGINT', handle);
}

/** Exits with a clear line when start-up fails (bad config, unreachable database...). */
export function fatal(logger: Logger, error: unknown): never {
  logger.fatal({ err: error, code: (error as { code?: string }).code }, (error as Error).message ?? 'fatal error');
  process.exit(1);
}

/**
 * Every service's start-up, in one order: config → logger → start → signals. A bad setting,
 * a failing start or a rejected promise anywhere in it ends the process with a fatal log line
 * (from the configured logger once there is one), never an unhandled rejection.
 */
export async function runService<C extends { logLevel: string; shutdownTimeoutMs: number }, S>(
  service: string,
  loadConfig: () => C,
  start: (config: C, logger: Logger) => Promise<S>,
  stop: (started: S) => Promise<void>,
): Promise<{ config: C; logger: Logger; started: S }> {
  let logger = createLogger(service, 'info'); // until the configured level is known (LOG_LEVEL may be the bad setting)
  try {
    const config = loadConfig();
    logger = createLogger(service, config.logLevel);
    const started = await start(config, logger);
    onShutdown(logger, config.shutdownTimeoutMs, () => stop(started));
    return { config, logger, started };
  } catch (error) {
    fatal(logger, error);
  }
}
