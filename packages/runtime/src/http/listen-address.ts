/**
 * Where a server listens, and the settings that said so: when the address cannot be had, the
 * fatal line names the variable to change (PORT, HOST, OPS_PORT...) rather than only the
 * address, which reads the same for every port of every service.
 */
export interface ListenAddress {
  port: number;
  /** Default: all IPv4 interfaces (0.0.0.0). */
  host?: string;
  /** The variable `port` came from; undefined: not configurable. */
  portVariable?: string;
  /** The variable `host` came from; undefined: not configurable. */
  hostVariable?: string;
}

export const DEFAULT_LISTEN_HOST = '0.0.0.0';

/** A failed listen(), its message naming the setting at fault; `code` stays the system's (EADDRINUSE...). */
export class ListenError extends Error {
  readonly code: string;

  constructor(address: ListenAddress, cause: NodeJS.ErrnoException) {
    super(`cannot listen: ${listenProblem(address, cause)}`, { cause });
    this.name = 'ListenError';
    this.code = cause.code ?? 'LISTEN_FAILED';
  }
}

function listenProblem(address: ListenAddress, cause: NodeJS.ErrnoException): string {
  const host = address.host ?? DEFAULT_LISTEN_HOST;
  const port = address.portVariable ? `${address.portVariable}=${address.port}` : `port ${address.port}`;
  const hostSetting = address.hostVariable ? `${address.hostVariable}=${host}` : `host ${host}`;
  switch (cause.code) {
    case 'EADDRINUSE':
      return `${port} is already in use on ${host} (EADDRINUSE): another process holds it`;
    case 'EACCES':
      return `${port} on ${host} is not allowed to this process (EACCES): ports below 1024 need privileges`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `${hostSetting} does not resolve to an address (${cause.code})`;
    case 'EADDRNOTAVAIL':
      return `${hostSetting} is not an address of this machine (EADDRNOTAVAIL)`;
    default:
      return `${hostSetting}, ${port}: ${cause.message}`;
  }
}
