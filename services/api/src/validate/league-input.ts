import { FieldErrors, objectBody, rejectUnknownFields } from './fields';

/** A validated PATCH /api/leagues/{id} body: the league's privacy flag (the one admin-settable field). */
export function parseLeaguePatch(raw: unknown): { private: boolean } {
  const body = objectBody(raw);
  const errors = new FieldErrors();
  rejectUnknownFields(body, ['private'], errors);
  if (typeof body.private !== 'boolean') errors.add('private', 'is required: true or false');
  errors.throwIfAny();
  return { private: body.private as boolean };
}
