import { ProtocolError } from '@matchcast/protocol';

// A connection error: the server is not there (yet), is starting or shutting down, or the
// socket died. Reconnecting later can succeed; nothing about the work itself was wrong.
const CONNECTION_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
const CONNECTION_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
]);
const CONNECTION_MESSAGES = [
  /connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /connection (is )?closed/i,
  /client has encountered a connection error/i,
  /not queryable/i,
];
// SQLSTATEs worth retrying besides those: the server is short of resources, the transaction lost
// a race, or the schema is not migrated yet (a worker can start before the migration job
// finishes). Everything else (constraint and data errors) will fail again.
const TRANSIENT_SQLSTATE_CLASSES = ['08', '53', '57', '58'];
const TRANSIENT_SQLSTATES = new Set(['40001', '40P01', '55P03', '42P01', '42883']);
const TRANSIENT_MESSAGES = [/query read timeout/i];

const codeOf = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
};
const isSqlState = (code: string): boolean => /^[0-9A-Z]{5}$/.test(code);
const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * True when the database could not be reached or the connection was lost (refused, DNS not
 * resolvable yet, server starting up or shutting down, class 08): worth reconnecting, and never
 * a sign that a statement was wrong.
 */
export function isConnectionError(error: unknown): boolean {
  const code = codeOf(error);
  if (code !== undefined && CONNECTION_NODE_CODES.has(code)) return true;
  if (code !== undefined && isSqlState(code)) return CONNECTION_SQLSTATES.has(code) || code.startsWith('08');
  return CONNECTION_MESSAGES.some((pattern) => pattern.test(messageOf(error)));
}

/** True when a database error may go away by itself: retrying the same transaction later can succeed. */
export function isTransientDbError(error: unknown): boolean {
  if (isConnectionError(error)) return true;
  const code = codeOf(error);
  if (code !== undefined) {
    if (TRANSIENT_SQLSTATES.has(code)) return true;
    if (isSqlState(code)) return TRANSIENT_SQLSTATE_CLASSES.includes(code.slice(0, 2));
  }
  return TRANSIENT_MESSAGES.some((pattern) => pattern.test(messageOf(error)));
}

/**
 * True when the transaction lost a race and was rolled back whole: a deadlock's victim (40P01)
 * or a serialization failure (40001). Running the same transaction again can succeed, for the
 * one it collided with has gone on meanwhile.
 */
export function isLostRace(error: unknown): boolean {
  const code = codeOf(error);
  return code === '40P01' || code === '40001';
}

/**
 * The answer to a request the database could not serve now — unreachable or connection lost,
 * out of resources (class 53), shutting down or a statement cancelled by its timeout (class
 * 57): 503 UNAVAILABLE, retryable, for the request was not at fault; undefined for any other error.
 */
export function unavailable(error: unknown): ProtocolError | undefined {
  // A ProtocolError is already the answer, and its message may echo client input ("connection closed").
  if (error instanceof ProtocolError) return undefined;
  const code = codeOf(error);
  const busy = code !== undefined && isSqlState(code) && (code.startsWith('53') || code.startsWith('57'));
  return busy || isConnectionError(error) ? new ProtocolError('UNAVAILABLE', 'the database is unavailable or busy; retry', { cause: error }) : undefined;
}
