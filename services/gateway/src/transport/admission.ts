import type { IncomingMessage } from 'node:http';
import { ProtocolError } from '@matchcast/protocol';
import type { Logger } from '@matchcast/runtime';
import type { Identity, TokenVerifier } from '@matchcast/auth';
import { clientAddress } from './client-address';
import type { ConnectionLimits } from './connection-limits';
import type { OriginPolicy } from './origins';

export interface AdmissionRules {
  isDraining(): boolean;
  connectionCount(): number;
  maxConnections: number;
  trustedProxyHops: number;
  origins: OriginPolicy;
  limits: ConnectionLimits;
  verifier: TokenVerifier;
  /**
   * Told of each connection let in. The write batch counts these, not TCP accepts, to tell a
   * reconnect storm: a flood of bare TCP connects (or of refused ones) must not put it in slices.
   */
  onAdmitted: () => void;
}

export interface Admitted {
  identity: Identity;
  /** Frees the connection's per-address slot; call when it closes (safe twice). */
  release: () => void;
}

/**
 * The door for every long-lived connection, WebSocket or SSE, in one order: draining, the
 * process-wide cap, Origin, the per-address caps (before any token work, so a flood of bad
 * tokens is throttled too), then the token. Throws a ProtocolError with the refusal's code.
 */
export async function admit(rules: AdmissionRules, req: IncomingMessage, queryToken: string | null): Promise<Admitted> {
  if (rules.isDraining()) throw new ProtocolError('SERVER_DRAINING');
  if (rules.connectionCount() >= rules.maxConnections) throw new ProtocolError('SERVER_FULL');
  rules.origins.check(req.headers.origin);
  const release = rules.limits.admit(clientAddress(req, rules.trustedProxyHops));
  try {
    const identity = await rules.verifier.authenticate(req.headers.authorization, queryToken);
    rules.onAdmitted();
    return { identity, release };
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
  const failure = ProtocolError.from(error);
  if (failure.code === 'INTERNAL') logger.error({ err: error }, 'connection refused by a server fault');
  rejected.inc({ code: failure.code });
  return failure;
}
