export { EnvReader, ConfigError, redactUrl, POSTGRES_PROTOCOLS, REDIS_PROTOCOLS, type IntOptions } from './env';
export { createLogger, LOG_LEVELS, type Logger, type LogLevel } from './logger';
export { createRegistry } from './metrics';
export { opsRoutes, type Probe } from './ops-routes';
export { onShutdown, fatal, runService } from './shutdown';
export { asError, backoffMs, exponentialMs, sleep } from './backoff';
export { listenOps, type OpsServer } from './ops-server';
export { throttledWarn } from './throttled-log';
