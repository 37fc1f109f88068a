import type { BrokerMode, Peer } from './options';
import { Infra, Service, freePort, peerScript, serviceScript } from './infra';

export interface StartedServer {
  service: Service;
  /** The client port (WebSocket and SSE). */
  port: number;
  /** Where /metrics and /readyz answer: the gateway's ops port, a peer's only port. */
  opsPort: number;
}

/**
 * Diagnostics only, for every gateway a bench starts: BENCH_GATEWAY_NODE_ARGS adds node flags
 * (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"), BENCH_GATEWAY_ENV sets variables (e.g.
 * "WS_PING_INTERVAL_MS=3600000", to see what the keep-alive costs). BENCH_PEER_NODE_ARGS and
 * BENCH_PEER_ENV do the same for every peer (e.g. "--trace-gc" on both, to compare them).
 */
const diagnosticArgs = nodeArgsFrom('BENCH_GATEWAY_NODE_ARGS');
const diagnosticEnv = envFrom('BENCH_GATEWAY_ENV');
const peerDiagnosticArgs = nodeArgsFrom('BENCH_PEER_NODE_ARGS');
const peerDiagnosticEnv = envFrom('BENCH_PEER_ENV');

function nodeArgsFrom(name: string): string[] {
  return process.env[name]?.split(' ').filter(Boolean) ?? [];
}

function envFrom(name: string): Record<string, string> {
  return Object.fromEntries(
    (process.env[name]?.split(' ').filter(Boolean) ?? []).map((pair) => {
      const equals = pair.indexOf('=');
      if (equals < 1) throw new Error(`${name}: "${pair}" is not NAME=value`);
      return [pair.slice(0, equals), pair.slice(equals + 1)];
    }),
  );
}

export interface GatewayStart {
  maxConnections: number;
  /** Extra node flags, e.g. --inspect. */
  nodeArgs?: string[];
  name?: string;
  /** Another gateway build's main.js (a "before" measurement); default: this checkout's. */
  script?: string;
}

/** A gateway from dist/ on the bench's Postgres (and Redis, in Redis mode), ready to serve. */
export async function startGateway(infra: Infra, mode: BrokerMode, logDir: string, start: GatewayStart): Promise<StartedServer> {
  const port = await freePort();
  const opsPort = await freePort();
  const env: Record<string, string> = {
    PORT: String(port),
    OPS_PORT: String(opsPort),
    HOST: '127.0.0.1',
    DATABASE_URL: infra.postgres.url,
    LOG_LEVEL: 'warn',
    DRAIN_DELAY_MS: '0',
    SHUTDOWN_TIMEOUT_MS: '5000',
    WS_MAX_CONNECTIONS: String(start.maxConnections),
    // The load clients come from a handful of loopback addresses: per-address caps off.
    WS_MAX_CONNECTIONS_PER_IP: '0',
    WS_MAX_CONNECTIONS_PER_USER: '0',
    WS_CONNECTIONS_PER_IP_PER_SECOND: '0',
    ...diagnosticEnv,
  };
  if (mode === 'redis') env.REDIS_URL = infra.redis.url;
  const service = new Service(start.name ?? `gateway-${mode}`, start.script ?? serviceScript('gateway'), env, logDir, [...diagnosticArgs, ...(start.nodeArgs ?? [])]).start();
  await service.ready(opsPort, '/readyz');
  return { service, port, opsPort };
}

/** A peer server (bench/src/peers) fed from the bench's Redis, ready to serve. */
export async function startPeer(infra: Infra, peer: Peer, logDir: string, nodeArgs: string[] = []): Promise<StartedServer> {
  const port = await freePort();
  const env = { PORT: String(port), REDIS_URL: infra.redis.url, PEER_FRAMING: peer === 'ws' ? 'naive' : peer, ...peerDiagnosticEnv };
  const service = new Service(`peer-${peer}`, peerScript(peer === 'socketio' ? 'socketio' : 'naive-ws'), env, logDir, [...peerDiagnosticArgs, ...nodeArgs]).start();
  await service.ready(port, '/readyz');
  return { service, port, opsPort: port };
}

/** The notify-listener from dist/, forwarding the bench's Postgres to its Redis, ready. */
export async function startListener(infra: Infra, logDir: string): Promise<StartedServer> {
  const port = await freePort();
  const env = { DATABASE_URL: infra.postgres.url, REDIS_URL: infra.redis.url, LISTENER_PORT: String(port), LISTENER_HOST: '127.0.0.1', LOG_LEVEL: 'warn' };
  const service = new Service('notify-listener', serviceScript('notify-listener'), env, logDir).start();
  await service.ready(port, '/readyz');
  return { service, port, opsPort: port };
}
