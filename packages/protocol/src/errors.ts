/**
 * The one catalog of protocol error codes. Each carries the WebSocket close code used
 * when the error ends the connection and the HTTP status used when it answers a request.
 * Codes are stable: clients switch on them.
 */
export const ErrorCodes = {
  BAD_REQUEST: { message: 'request is malformed', close: 1008, http: 400 },
  NOT_FOUND: { message: 'no such endpoint', close: 1008, http: 404 },
  REQUEST_TIMEOUT: { message: 'request not received in time', close: 1008, http: 408 },
  HEADERS_TOO_LARGE: { message: 'request headers are too large', close: 1008, http: 431 },
  BAD_JSON: { message: 'frame is not valid JSON', close: 1007, http: 400 },
  BAD_MESSAGE: { message: 'message does not match the protocol', close: 1008, http: 400 },
  UNKNOWN_ACTION: { message: 'unknown action', close: 1008, http: 400 },
  INVALID_CHANNEL: { message: 'channel name is malformed', close: 1008, http: 400 },
  UNKNOWN_CHANNEL: { message: 'no such channel kind', close: 1008, http: 404 },
  TOO_MANY_CHANNELS: { message: 'subscription limit reached', close: 1008, http: 400 },
  BAD_RESUME: { message: 'resume position is malformed', close: 1008, http: 400 },
  BAD_POSITION_TOKEN: { message: 'Last-Event-ID is not a position token this service issued', close: 1008, http: 400 },
  RESUME_TOO_OLD: { message: 'resume position is older than the history window; reload state', close: 1008, http: 410 },
  PAYLOAD_TOO_LARGE: { message: 'frame exceeds the maximum payload', close: 1009, http: 413 },
  BINARY_NOT_SUPPORTED: { message: 'binary frames are not supported', close: 1003, http: 415 },
  RATE_LIMITED: { message: 'too many messages; slow down', close: 1008, http: 429 },
  UNAUTHORIZED: { message: 'missing or invalid token', close: 4001, http: 401 },
  TOKEN_EXPIRED: { message: 'token expired; reconnect (or send refresh) with a new token', close: 4001, http: 401 },
  ORIGIN_NOT_ALLOWED: { message: 'origin is not allowed', close: 1008, http: 403 },
  TOO_MANY_CONNECTIONS: { message: 'too many connections from your address; retry later', close: 1013, http: 429 },
  FORBIDDEN_CHANNEL: { message: 'token does not grant that channel', close: 4003, http: 403 },
  SLOW_CONSUMER: { message: 'client could not keep up; reconnect with resume', close: 4008, http: 503 },
  SERVER_FULL: { message: 'connection limit reached; retry later', close: 1013, http: 503 },
  SERVER_DRAINING: { message: 'server is restarting; reconnect now with resume', close: 1012, http: 503 },
  // The REST API (services/api, docs/api.md).
  FORBIDDEN: { message: 'token does not grant this operation', close: 4003, http: 403 },
  VALIDATION_FAILED: { message: 'request body failed validation; see fields', close: 1008, http: 400 },
  UNSUPPORTED_MEDIA_TYPE: { message: 'request body must be application/json', close: 1003, http: 415 },
  INVALID_TRANSITION: { message: 'the purchase cannot move to that status from its current one', close: 1008, http: 409 },
  IDEMPOTENCY_KEY_REUSED: { message: 'this idempotency key was used for a different request', close: 1008, http: 409 },
  TOO_MANY_PENDING_PURCHASES: { message: 'too many purchases are waiting for payment', close: 1008, http: 409 },
  MATCH_NOT_ON_SALE: { message: 'tickets are not on sale for this match', close: 1008, http: 409 },
  ANNOUNCEMENT_EXPIRED: { message: 'the announcement has expired and can no longer be edited', close: 1008, http: 409 },
  FOLLOW_LIMIT_REACHED: { message: 'follow limit reached; unfollow something first', close: 1008, http: 409 },
  UNAVAILABLE: { message: 'service temporarily unavailable; retry', close: 1013, http: 503 },
  INTERNAL: { message: 'internal error', close: 1011, http: 500 },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class ProtocolError extends Error {
  readonly code: ErrorCode;
  readonly closeCode: number;
  readonly httpStatus: number;
  /** The stream or channel the error is about, when there is one (e.g. which stream to reload). */
  readonly stream: string | undefined;
  readonly channel: string | undefined;
  /** Per-field problems of a rejected request body (VALIDATION_FAILED): field path → what is wrong. */
  readonly fields: Readonly<Record<string, string>> | undefined;

  constructor(
    code: ErrorCode,
    message?: string,
    options?: { cause?: unknown; stream?: string; channel?: string; fields?: Record<string, string> },
  ) {
    const entry = ErrorCodes[code];
    super(message ?? entry.message, options);
    this.name = 'ProtocolError';
    this.code = code;
    this.closeCode = entry.close;
    this.httpStatus = entry.http;
    this.stream = options?.stream;
    this.channel = options?.channel;
    this.fields = options?.fields;
  }

  /** The one normalization: a ProtocolError stays itself, anything else becomes INTERNAL with it as cause. */
  static from(error: unknown): ProtocolError {
    return error instanceof ProtocolError ? error : new ProtocolError('INTERNAL', undefined, { cause: error });
  }

  /** The JSON body of an HTTP error answer (REST, SSE, refused upgrades). */
  body(): { error: ErrorCode; message: string; fields?: Readonly<Record<string, string>> } {
    return this.fields ? { error: this.code, message: this.message, fields: this.fields } : { error: this.code, message: this.message };
  }
}
