/**
 * The safety net under the API's validation, against a real Postgres: a value the database
 * refuses as a data exception (SQLSTATE class 22) is a 400 BAD_REQUEST with a warning, never a
 * 500 INTERNAL with an error stack, whatever route lets such a value through in future. A
 * transaction that lost a race (deadlock, serialization failure) is a 503 UNAVAILABLE.
 */
import type { AddressInfo } from 'node:net';
import { createLogger, errorResponder } from '@matchcast/runtime';
import express from 'express';
import pg from 'pg';
import { classifyDatabaseError, databaseErrors } from '../src/http/db-errors';
import { PostgresServer } from './support';

describe('database errors: data exceptions (SQLSTATE class 22)', () => {
  let server: PostgresServer;
  let pool: pg.Pool;

  beforeAll(async () => {
    server = await new PostgresServer().start();
    pool = new pg.Pool({ connectionString: server.url, max: 2 });
  });

  afterAll(async () => {
    await pool?.end();
    await server?.destroy();
  });

  /** The error Postgres answers `sql` with. */
  const refusal = (sql: string, value: string) => pool.query(sql, [value]).then(() => Promise.reject(new Error(`accepted: ${value}`)), (error: unknown) => error);

  it.each([
    ['year 0', 'SELECT $1::timestamptz', '0000-01-01T00:00:00.000Z'],
    ['year 10000 as toISOString writes it', 'SELECT $1::timestamptz', '+010000-01-01T04:00:00.000Z'],
    ['a zone beyond 15:59', 'SELECT $1::timestamptz', '2026-01-01T00:00:00+23:59'],
    ['NUL in text', 'SELECT $1::text', 'a\u0000b'],
    ['NUL in jsonb', 'SELECT $1::jsonb', '{"a":"\\u0000"}'],
    ['a number out of range', 'SELECT $1::int', '99999999999'],
  ])('%s is BAD_REQUEST', async (_what, sql, value) => {
    const error = (await refusal(sql, value)) as { code: string };
    expect(error.code).toMatch(/^22/);
    expect(classifyDatabaseError(error)).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400 });
  });

  it("a deadlock's victim and a serialization failure (lost on every retry) are 503 UNAVAILABLE, retryable", async () => {
    await pool.query('CREATE TABLE IF NOT EXISTS race (id int PRIMARY KEY, n int); INSERT INTO race VALUES (1, 0), (2, 0) ON CONFLICT DO NOTHING');
    const [a, b] = [await pool.connect(), await pool.connect()];
    try {
      await a.query('BEGIN');
      await b.query('BEGIN');
      await a.query('UPDATE race SET n = n + 1 WHERE id = 1');
      await b.query('UPDATE race SET n = n + 1 WHERE id = 2');
      const settled = (query: Promise<unknown>) => query.then(() => undefined, (error: unknown) => error);
      const [fromA, fromB] = await Promise.all([settled(a.query('UPDATE race SET n = n + 1 WHERE id = 2')), settled(b.query('UPDATE race SET n = n + 1 WHERE id = 1'))]);
      const deadlock = (fromA ?? fromB) as { code: string };
      expect(deadlock.code).toBe('40P01');
      expect(classifyDatabaseError(deadlock)).toMatchObject({ code: 'UNAVAILABLE', httpStatus: 503 });
      await Promise.all([a.query('ROLLBACK'), b.query('ROLLBACK')]);

      await a.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await a.query('SELECT n FROM race WHERE id = 1');
      await b.query('UPDATE race SET n = n + 1 WHERE id = 1');
      const serialization = (await settled(a.query('UPDATE race SET n = n + 1 WHERE id = 1'))) as { code: string };
      expect(serialization.code).toBe('40001');
      expect(classifyDatabaseError(serialization)).toMatchObject({ code: 'UNAVAILABLE', httpStatus: 503 });
      await a.query('ROLLBACK');
    } finally {
      a.release();
      b.release();
    }
  });

  it('answers 400 over HTTP and logs a warning, not an error', async () => {
    const logger = createLogger('api-test', 'silent');
    const warn = jest.spyOn(logger, 'warn');
    const error = jest.spyOn(logger, 'error');
    const app = express();
    app.get('/at', (req, res, next) => {
      pool.query('SELECT $1::timestamptz AS at', [req.query.t]).then(({ rows }) => res.json(rows[0]), next);
    });
    app.use(databaseErrors(logger));
    app.use(errorResponder(logger));
    const listening = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => listening.once('listening', resolve));
    try {
      const base = `http://127.0.0.1:${(listening.address() as AddressInfo).port}/at?t=`;
      expect((await fetch(`${base}2026-01-01T00:00:00Z`)).status).toBe(200);
      const answer = await fetch(`${base}0000-01-01T00:00:00Z`);
      expect(answer.status).toBe(400);
      expect(await answer.json()).toEqual({ error: 'BAD_REQUEST', message: 'a value in the request is out of range or cannot be stored' });
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn.mock.calls[0]?.[1]).toBe('database refused a value of the request (SQLSTATE class 22); answering 400');
      expect(error).not.toHaveBeenCalled();
    } finally {
      await new Promise((resolve) => listening.close(resolve));
    }
  });
});
