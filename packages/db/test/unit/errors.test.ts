import { ProtocolError } from '@matchcast/protocol';
import { isConnectionError, isTransientDbError, unavailable } from '../../src/errors';

const pgError = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('database error classes', () => {
  it.each([
    ['connection refused', pgError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')],
    ['DNS not resolvable yet', pgError('ENOTFOUND', 'getaddrinfo ENOTFOUND db')],
    ['server starting up (57P03)', pgError('57P03', 'the database system is starting up')],
    ['server shutting down (57P01)', pgError('57P01', 'terminating connection due to administrator command')],
    ['class 08', pgError('08006')],
    ['too many connections', pgError('53300')],
    ['a lost socket without a code', new Error('Connection terminated unexpectedly')],
    ['a connect timeout', new Error('Connection terminated due to connection timeout')],
  ])('%s is a connection error, and transient', (_what, error) => {
    expect(isConnectionError(error)).toBe(true);
    expect(isTransientDbError(error)).toBe(true);
  });

  it.each([
    ['a syntax error', pgError('42601', 'syntax error at or near "SELEC"')],
    ['a lock timeout', pgError('55P03')],
    ['a statement timeout', pgError('57014')],
    ['a serialization failure', pgError('40001')],
    ['an undefined table', pgError('42P01')],
    ['a wrong password', pgError('28P01')],
    ['an SQL error whose text mentions a closed connection', pgError('23505', 'connection closed')],
  ])('%s is no connection error', (_what, error) => {
    expect(isConnectionError(error)).toBe(false);
  });

  it.each([
    ['a serialization failure', pgError('40001'), true],
    ['a lock timeout', pgError('55P03'), true],
    ['a statement timeout (class 57)', pgError('57014'), true],
    ['an undefined table (a worker before the migration)', pgError('42P01'), true],
    ['a read timeout', new Error('Query read timeout'), true],
    ['a syntax error', pgError('42601'), false],
    ['a unique violation', pgError('23505'), false],
  ])('%s: transient = %s', (_what, error, transient) => {
    expect(isTransientDbError(error)).toBe(transient);
  });
});

describe('unavailable', () => {
  it.each([
    ['refused', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })],
    ['too many clients', pgError('53300')],
    ['a statement timeout', pgError('57014')],
    ['shutting down', pgError('57P01')],
    ["pg-pool's connect timeout", new Error('timeout exceeded when trying to connect')],
  ])('answers %s with 503 UNAVAILABLE', (_what, error) => {
    expect(unavailable(error)).toMatchObject({ code: 'UNAVAILABLE', httpStatus: 503 });
  });

  it.each([
    ['a unique violation', pgError('23505')],
    ['a data exception', pgError('22008')],
    // Its message echoes client input that looks like a connection error.
    ['a client error naming "connection closed"', new ProtocolError('UNKNOWN_CHANNEL', 'unknown channel "connection closed"')],
  ])('leaves %s alone', (_what, error) => {
    expect(unavailable(error)).toBeUndefined();
  });
});
