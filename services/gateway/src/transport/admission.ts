import type { IncomingMessage } from 'node:http';
import { unavailable } from '@matchcast/db';
import { ProtocolError } from '@matchcast/protocol';
import type { Identity, TokenVerifier } from '@matchcast/auth';
import { authorizationHeader, clientGroup, type Logger } from '@matchcast/runtime';
import type { ConnectionLimits } from './connection-limits';
import type { GatewayMetrics } from '../metrics';
import type { OriginPolicy } from './origins';
import { UserSlot } from './user-slot';
import { noteArrival } from './write-batch';

export interface AdmissionRules {
  isDraining(): boolean;
  /** Open streams (the registry's clients). */
  connectionCount(): number;
  /** Connections past the door whose stream is not open yet: the process-wide cap counts them too. */
  admitting: Admitting;
  maxConnections: number;
  trustedProxyHops: number;
  origins: OriginPolicy;
  limits: ConnectionLimits;
  verifier: TokenVerifier;
}

export interface Admitted {
  identity: Identity;
  /** The client's address group (clientGroup): what the per-address caps count, and whose turn its reads take. */
  addressGroup: string;
  /** The connection's place under the per-user cap: taken for the token's user, or by a later `refresh`; freed by release. */
  userSlot: UserSlot;
  /** Frees the connection's per-address and per-user slots (and its place among those admitting); call when it closes (safe twice). */
  release: () => void;
  /** The stream is open and the registry counts it: its place among those admitting is freed (safe twice). */
  opened: () => void;
}

/**
 * How many connections are between the door and an open stream: the token check, the WebSocket
 * handshake, an SSE endpoint's reads. The registry does not count them yet, and a burst of SSE
 * requests, each waiting on a read, all passed the process-wide cap (60 streams opened at
 * WS_MAX_CONNECTIONS=10).
 */
export class Admitting {
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** One more; the returned end is safe to call twice. */
  begin(): () => void {
    this.count++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.count--;
    };
  }
}

/**
 * The door for every long-lived connection, WebSocket or SSE, in one order: draining, the
 * process-wide cap, Origin, the per-address caps (before any token work, so a flood of bad
 * tokens is throttled too), the token, then the per-user cap. Throws a ProtocolError with the
 * refusal's code.
 */
export async function admit(rules: AdmissionRules, req: IncomingMessage, queryToken: string | null): Promise<Admitted> {
  if (rules.isDraining()) throw new ProtocolError('SERVER_DRAINING');
  if (rules.connectionCount() + rules.admitting.size >= rules.maxConnections) throw new ProtocolError('SERVER_FULL');
  rules.origins.check(req.headers.origin);
  const addressGroup = clientGroup(req, rules.trustedProxyHops);
  const releaseSlot = rules.limits.admit(addressGroup);
  const opened = rules.admitting.begin();
  const userSlot = new UserSlot(rules.limits);
  const release = () => {
    opened();
    releaseSlot();
    userSlot.free();
  };
  try {
    const identity = await rules.verifier.authenticate(authorizationHeader(req), queryToken);
    await userSlot.claim(identity.userId);
    return { identity, addressGroup, userSlot, release, opened };
  } catch (error) {
    release();
    throw error;
  }
}

/**
 * A connection refused at the door, WebSocket or SSE: counted by code, logged when the fault
 * is the server's; returns the error to answer with.
 */
export function refusal(error: unknown, rejected: { inc(labels: { code: string }): void }, logger: Logger): ProtocolError {
  const failure = ProtocolError.from(unavailable(error) ?? error);
  if (failure.code === 'INTERNAL') logger.error({ err: error }, 'connection refused by a server fault');
  rejected.inc({ code: failure.code });
  return failure;
}

/**
 * A WebSocket or SSE stream opened, past the door and the endpoint's own checks: counted, and
 * told to the write batch, which tells a reconnect storm by streams opened in numbers — not by
 * TCP accepts, so a flood of bare connects, bad handshakes or refused requests is no storm.
 */
export function opened(metrics: GatewayMetrics, transport: 'ws' | 'sse'): void {
  metrics.connections.inc({ transport });
  if (noteArrival()) metrics.reconnectStorms.inc();
}
