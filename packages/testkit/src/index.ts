export { freePort, freePortRange, waitFor } from './ports';
export { deliveringThrough } from './delivering';
export { startChild, type ManagedChild } from './child';
export { PostgresServer, type PostgresServerOptions } from './postgres-server';
export { RedisServer, type RedisServerOptions } from './redis-server';
export { bareConnections, type BareConnections } from './bare-connections';
export { notifySigned, signedNotification } from './signed-notify';
