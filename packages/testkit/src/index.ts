export { freePort, waitFor } from './ports';
export { startChild, type ManagedChild } from './child';
export { PostgresServer, type PostgresServerOptions } from './postgres-server';
export { RedisServer } from './redis-server';
