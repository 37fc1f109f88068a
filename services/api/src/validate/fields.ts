import { ProtocolError } from '@matchcast/protocol';

const MAX_REPORTED = 20;

/**
 * Collects per-field problems of a request body and throws them together as one
 * VALIDATION_FAILED, so a client fixes everything in one round trip.
 */
export class FieldErrors {
  /** No prototype: a field named `__proto__` is a key like any other, not the object's prototype. */
  private readonly problems: Record<string, string> = Object.create(null);
  private count = 0;

  add(field: string, problem: string): void {
    this.count++;
    if (this.count <= MAX_REPORTED) this.problems[field.slice(0, 64)] = problem;
  }

  /** Records the problem and returns null: `return errors.reject(field, problem)` in a parser. */
  reject(field: string, problem: string): null {
    this.add(field, problem);
    return null;
  }

  throwIfAny(): void {
    if (this.count === 0) return;
    const more = this.count > MAX_REPORTED ? ` (first ${MAX_REPORTED} of ${this.count} shown)` : '';
    throw new ProtocolError('VALIDATION_FAILED', `request body failed validation: ${Object.keys(this.problems).join(', ')}${more}`, {
      fields: this.problems,
    });
  }
}

/** A request body that is a JSON object, or BAD_REQUEST (a missing body, an array, a string…). */
export function objectBody(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ProtocolError('BAD_REQUEST', 'the request body must be a JSON object (Content-Type: application/json)');
  }
  return body as Record<string, unknown>;
}

/** Fields a body may carry: anything else is reported, so a misspelt optional field is not silently ignored. */
export function rejectUnknownFields(body: Record<string, unknown>, known: readonly string[], errors: FieldErrors): void {
  for (const key of Object.keys(body)) {
    if (!known.includes(key)) errors.add(key, 'unknown field');
  }
}
