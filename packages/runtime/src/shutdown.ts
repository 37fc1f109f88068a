import type { Logger } from 'pino';

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
