import { isLostRace, unavailable } from '@matchcast/db';
import { ProtocolError } from '@matchcast/protocol';
import { throttledWarn, type Logger } from '@matchcast/runtime';
import type { ErrorRequestHandler, NextFunction, Request, Response } from 'express';

/**
 * What a database error means for the client. Unavailability (connection lost, pool exhausted,
 * statement timeout, server shutting down, a deadlock or serialization failure lost on every
 * try) is 503 UNAVAILABLE: retryable. A constraint the
 * API's validation should have caught is still the client's fault: VALIDATION_FAILED naming
 * the column. So is a data exception (SQLSTATE class 22: a time or number out of range, text
 * Postgres cannot store): BAD_REQUEST, since which field is not known. Anything else stays INTERNAL.
 */
export function classifyDatabaseError(error: unknown): ProtocolError | undefined {
  const { code, constraint } = (error ?? {}) as { code?: unknown; constraint?: unknown };
  const busy = unavailable(error);
  if (busy) return busy;
  // Lost a race again after the store's retries (retry-lost-races.ts): retryable, as busy is.
  if (isLostRace(error)) return new ProtocolError('UNAVAILABLE', 'the request collided with concurrent changes; retry', { cause: error });
  if (code === '23514' && typeof constraint === 'string') {
    // notification_<column>_check: the column is the field of the request body.
    const field = /^notification_(.+)_check$/.exec(constraint)?.[1] ?? 'body';
    return new ProtocolError('VALIDATION_FAILED', `request body failed validation: ${field}`, { cause: error, fields: { [field]: 'is not accepted by the database' } });
  }
  if (isDataException(error)) {
    return new ProtocolError('BAD_REQUEST', 'a value in the request is out of range or cannot be stored', { cause: error });
  }
  return undefined;
}

/** SQLSTATE class 22, data exception: a value validation let through. */
function isDataException(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('22');
}

/** An error handler before errorResponder: database errors become their ProtocolError. */
export function databaseErrors(logger: Logger): ErrorRequestHandler {
  const warn = throttledWarn(logger);
  const refused = throttledWarn(logger);
  return (error: unknown, _req: Request, _res: Response, next: NextFunction): void => {
    if (error instanceof ProtocolError) return next(error);
    const classified = classifyDatabaseError(error);
    if (classified?.code === 'UNAVAILABLE') warn({ err: error }, 'database unavailable; answering 503');
    // 400 for the client, but the API's validation missed this value: worth an operator's look.
    else if (isDataException(error)) refused({ err: error }, 'database refused a value of the request (SQLSTATE class 22); answering 400');
    next(classified ?? error);
  };
}
