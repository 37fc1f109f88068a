/**
 * Ticket purchases against a real Postgres, as a member of matchcast_api: buy (validation,
 * unknown and finished matches, idempotency), read (owner, admin, anyone else 404), list, and
 * status changes (roles, every allowed and refused transition) — each write checked on the
 * purchase's stream and in the buyer's notifications.
 */
import type pg from 'pg';
import { MAX_PENDING_PURCHASES } from '../src/routes/purchases';
import { call, startDatabase, startTestApi, token, userStream, type PostgresServer } from './support';

describe('purchases', () => {
  let server: PostgresServer;
  let admin: pg.Pool;
  let api: Awaited<ReturnType<typeof startTestApi>>;
  let service: string;
  let root: string;
  let alice: string;
  let bob: string;

  const buy = (body: unknown, as = alice) => call(api.url, 'POST', '/api/purchases', { token: as, json: body });
  const get = (id: string, as = alice) => call(api.url, 'GET', `/api/purchases/${id}`, { token: as });
  const patch = (id: string, body: unknown, as = service) => call(api.url, 'PATCH', `/api/purchases/${id}`, { token: as, json: body });
  const stream = async (id: string) =>
    (await admin.query(`SELECT seq::int, type, match_id, data FROM outbox WHERE stream = $1 ORDER BY seq`, [`purchase:${id}`])).rows;
  /** Until `n` of the API's database sessions wait for a lock (at most 5 s). */
  const waitForLockWaiters = async (n: number) => {
    const waiting = `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'matchcast-api' AND wait_event_type = 'Lock'`;
    for (let i = 0; i < 100 && (await admin.query(waiting)).rows[0].n < n; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await admin.query(waiting)).rows[0].n).toBe(n);
  };

  beforeAll(async () => {
    let apiUrl: string;
    ({ server, admin, apiUrl } = await startDatabase());
    await admin.query(`INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at, status) VALUES
      ('done', 'epl', 'che', 'ars', now(), 'finished'), ('off', 'epl', 'che', 'ars', now(), 'cancelled'),
      ('later', 'epl', 'che', 'ars', now(), 'postponed')`);
    api = await startTestApi(apiUrl);
    [service, root, alice, bob] = await Promise.all([token('payments', ['service']), token('root', ['admin']), token('alice'), token('bob')]);
  });

  afterAll(async () => {
    await api?.close();
    await admin?.end();
    await server?.destroy();
  });

  describe('POST /api/purchases', () => {
    it('creates a pending purchase, its stream\'s first message and a notification for the buyer', async () => {
      const answer = await buy({ match_id: 'm1', quantity: 2 });
      expect(answer.status).toBe(201);
      expect(answer.body).toEqual({
        id: expect.stringMatching(/^\d+$/),
        user_id: 'alice',
        match_id: 'm1',
        quantity: 2,
        status: 'pending',
        created_at: expect.any(String),
        updated_at: answer.body.created_at,
      });
      const events = await stream(answer.body.id);
      // No match_id on the outbox row: a purchase never reaches the match's public channels.
      expect(events).toEqual([{ seq: 1, type: 'purchase', match_id: null, data: { ...answer.body, old_status: null } }]);
      const notes = (await userStream(admin, 'alice')).filter((e) => e.data.data?.purchase_id === answer.body.id);
      expect(notes).toEqual([
        expect.objectContaining({
          type: 'notification',
          data: expect.objectContaining({
            title: 'Tickets reserved',
            message: '2 tickets for Arsenal v Chelsea: awaiting payment.',
            type: 'purchase',
            match_id: 'm1',
            data: { purchase_id: answer.body.id, status: 'pending', old_status: null, quantity: 2 },
          }),
        }),
      ]);
    });

    it('answers a retry with the same idempotency key with the same purchase (200, nothing new)', async () => {
      const first = await buy({ match_id: 'm1', quantity: 1, idempotency_key: 'order-42' });
      expect(first.status).toBe(201);
      const again = await buy({ match_id: 'm1', quantity: 1, idempotency_key: 'order-42' });
      expect(again).toMatchObject({ status: 200, body: first.body });
      expect(await stream(first.body.id)).toHaveLength(1);
      // The key is the buyer's own: another user's same key is another purchase.
      const bobs = await buy({ match_id: 'm1', quantity: 1, idempotency_key: 'order-42' }, bob);
      expect(bobs.status).toBe(201);
      expect(bobs.body.id).not.toBe(first.body.id);
      const reused = await buy({ match_id: 'm1', quantity: 3, idempotency_key: 'order-42' });
      expect(reused).toMatchObject({ status: 409, body: { error: 'IDEMPOTENCY_KEY_REUSED' } });
    });

    it("answers a retry of a key with its purchase (200) also once the match's row is deleted; a new purchase of it is 404", async () => {
      await admin.query(`INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('gone', 'epl', 'ars', 'che', now())`);
      const first = await buy({ match_id: 'gone', quantity: 2, idempotency_key: 'before-delete' });
      expect(first.status).toBe(201);
      await admin.query(`DELETE FROM match WHERE id = 'gone'`);
      expect(await buy({ match_id: 'gone', quantity: 2, idempotency_key: 'before-delete' })).toMatchObject({ status: 200, body: first.body });
      expect(await buy({ match_id: 'gone', quantity: 3, idempotency_key: 'before-delete' })).toMatchObject({ status: 409, body: { error: 'IDEMPOTENCY_KEY_REUSED' } });
      expect(await buy({ match_id: 'gone', quantity: 2, idempotency_key: 'after-delete' })).toMatchObject({ status: 404, body: { error: 'NOT_FOUND' } });
      expect(await buy({ match_id: 'gone', quantity: 2 })).toMatchObject({ status: 404, body: { error: 'NOT_FOUND' } });
      expect(await stream(first.body.id)).toHaveLength(1);
    });

    it('creates one purchase for concurrent requests with one key', async () => {
      const answers = await Promise.all(Array.from({ length: 6 }, () => buy({ match_id: 'm1', quantity: 4, idempotency_key: 'race' })));
      expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 201]);
      expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
      expect(await stream(answers[0]!.body.id)).toHaveLength(1);
    });

    it(`refuses a buyer's purchase past ${MAX_PENDING_PURCHASES} pending ones, also when they come at once, until one is paid`, async () => {
      const erin = await token('erin');
      const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => buy({ match_id: 'm1', quantity: 1, idempotency_key: `e${i}` }, erin)));
      const created = burst.filter((answer) => answer.status === 201);
      expect(created).toHaveLength(MAX_PENDING_PURCHASES);
      expect(burst.filter((answer) => answer.status === 409).map((answer) => answer.body.error)).toEqual(Array(10).fill('TOO_MANY_PENDING_PURCHASES'));
      expect((await admin.query(`SELECT count(*)::int AS n FROM purchase WHERE user_id = 'erin'`)).rows[0].n).toBe(MAX_PENDING_PURCHASES);
      // A retry of a key that made a purchase still answers with it; another buyer is not affected.
      const first = burst.findIndex((answer) => answer.status === 201);
      expect(await buy({ match_id: 'm1', quantity: 1, idempotency_key: `e${first}` }, erin)).toMatchObject({ status: 200, body: { id: burst[first]!.body.id } });
      expect((await buy({ match_id: 'm1', quantity: 1 }, await token('dave'))).status).toBe(201);
      // Paid, a purchase no longer waits: room for one more.
      expect((await patch(created[0]!.body.id, { status: 'paid' })).status).toBe(200);
      expect((await buy({ match_id: 'm1', quantity: 1 }, erin)).status).toBe(201);
      expect(await buy({ match_id: 'm1', quantity: 1 }, erin)).toMatchObject({ status: 409, body: { error: 'TOO_MANY_PENDING_PURCHASES' } });
    });

    it(`answers concurrent retries of one key with its purchase, also when it is the ${MAX_PENDING_PURCHASES}th pending one`, async () => {
      const frank = await token('frank');
      for (let i = 1; i < MAX_PENDING_PURCHASES; i++) expect((await buy({ match_id: 'm1', quantity: 1 }, frank)).status).toBe(201);
      // The buyer's stream lock held elsewhere: the three queue behind it at once, as a retry racing its first request does.
      const holder = await admin.connect();
      try {
        await holder.query('BEGIN');
        await holder.query(`SELECT 1 FROM stream_counter WHERE stream = 'user:frank' FOR UPDATE`);
        const retries = Promise.all(Array.from({ length: 3 }, () => buy({ match_id: 'm1', quantity: 1, idempotency_key: 'checkout-last' }, frank)));
        await waitForLockWaiters(3);
        await holder.query('COMMIT');
        const answers = await retries;
        expect(answers.map((answer) => answer.status).sort()).toEqual([200, 200, 201]);
        expect(new Set(answers.map((answer) => answer.body.id)).size).toBe(1);
      } finally {
        holder.release();
      }
    });

    it('404s an unknown match and 409s a finished or cancelled one; a postponed match is on sale', async () => {
      expect(await buy({ match_id: 'nope', quantity: 1 })).toMatchObject({ status: 404, body: { error: 'NOT_FOUND' } });
      expect(await buy({ match_id: 'done', quantity: 1 })).toMatchObject({ status: 409, body: { error: 'MATCH_NOT_ON_SALE' } });
      expect(await buy({ match_id: 'off', quantity: 1 })).toMatchObject({ status: 409, body: { error: 'MATCH_NOT_ON_SALE' } });
      expect((await buy({ match_id: 'later', quantity: 1 })).status).toBe(201);
    });

    it.each([
      [{ match_id: 'm1', quantity: 0 }, 'quantity'],
      [{ match_id: 'm1', quantity: 11 }, 'quantity'],
      [{ match_id: 'm1', quantity: 1.5 }, 'quantity'],
      [{ match_id: 'm1', quantity: '2' }, 'quantity'],
      [{ match_id: 'm1' }, 'quantity'],
      [{ quantity: 1 }, 'match_id'],
      [{ match_id: 'a b', quantity: 1 }, 'match_id'],
      [{ match_id: 'm1', quantity: 1, idempotency_key: '' }, 'idempotency_key'],
      [{ match_id: 'm1', quantity: 1, idempotency_key: 'x'.repeat(129) }, 'idempotency_key'],
      [{ match_id: 'm1', quantity: 1, idempotency_key: 7 }, 'idempotency_key'],
      [{ match_id: 'm1', quantity: 1, user_id: 'bob' }, 'user_id'],
      [{ match_id: 'm1', quantity: 1, status: 'paid' }, 'status'],
    ])('refuses %j with 400 VALIDATION_FAILED naming %s', async (body, field) => {
      const answer = await buy(body);
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe('VALIDATION_FAILED');
      expect(Object.keys(answer.body.fields)).toContain(field);
    });

    it('refuses non-objects, malformed JSON and missing tokens', async () => {
      expect(await buy([1])).toMatchObject({ status: 400, body: { error: 'BAD_REQUEST' } });
      expect((await call(api.url, 'POST', '/api/purchases', { token: alice, raw: '{"match_id":', headers: { 'content-type': 'application/json' } })).status).toBe(400);
      expect(await call(api.url, 'POST', '/api/purchases', { json: { match_id: 'm1', quantity: 1 } })).toMatchObject({ status: 401, body: { error: 'UNAUTHORIZED' } });
    });
  });

  describe('GET /api/purchases/{id} and /api/me/purchases', () => {
    it('shows the owner and admins the purchase with its stream seq; anyone else gets 404 as for no purchase', async () => {
      const { body: bought } = await buy({ match_id: 'm1', quantity: 3 });
      expect(await get(bought.id)).toMatchObject({ status: 200, body: { ...bought, stream_seq: 1 } });
      expect(await get(bought.id, root)).toMatchObject({ status: 200, body: { ...bought, stream_seq: 1 } });
      const others = await get(bought.id, bob);
      const missing = await get('999999999', bob);
      expect(others).toMatchObject({ status: 404, body: { error: 'NOT_FOUND' } });
      expect(others.body).toEqual(missing.body);
      // The payment side changes purchases but does not read buyers' purchases.
      expect((await get(bought.id, service)).status).toBe(404);
    });

    it.each(['abc', '-1', '1.5', '99999999999999999999', '%20'])('refuses the id %s with 400', async (id) => {
      expect(await get(id)).toMatchObject({ status: 400, body: { error: 'BAD_REQUEST' } });
    });

    it('lists only the caller\'s purchases, newest first, in cursor pages', async () => {
      const carol = await token('carol');
      const ids: string[] = [];
      for (let i = 1; i <= 5; i++) ids.push((await buy({ match_id: 'm1', quantity: i }, carol)).body.id);
      const first = await call(api.url, 'GET', '/api/me/purchases?limit=3', { token: carol });
      expect(first.status).toBe(200);
      expect(first.body.purchases.map((p: { id: string }) => p.id)).toEqual(ids.slice(2).reverse());
      const second = await call(api.url, 'GET', `/api/me/purchases?limit=3&cursor=${first.body.next_cursor}`, { token: carol });
      expect(second.body).toEqual({ purchases: [expect.objectContaining({ id: ids[1] }), expect.objectContaining({ id: ids[0] })], next_cursor: null });
      const bobs = await call(api.url, 'GET', '/api/me/purchases', { token: bob });
      expect(bobs.body.purchases.every((p: { user_id: string }) => p.user_id === 'bob')).toBe(true);
      expect((await call(api.url, 'GET', '/api/me/purchases?limit=0', { token: carol })).status).toBe(400);
      expect((await call(api.url, 'GET', '/api/me/purchases?cursor=zz', { token: carol })).status).toBe(400);
    });
  });

  describe('PATCH /api/purchases/{id}', () => {
    const statuses = async (id: string) => (await stream(id)).map((e) => [e.data.old_status, e.data.status]);

    it('moves pending → paid → issued → refunded, each once on the stream and in the buyer\'s notifications', async () => {
      const { body: bought } = await buy({ match_id: 'm1', quantity: 1 });
      for (const status of ['paid', 'issued', 'refunded']) {
        const answer = await patch(bought.id, { status }, status === 'refunded' ? root : service);
        expect(answer).toMatchObject({ status: 200, body: { id: bought.id, user_id: 'alice', status } });
      }
      expect(await statuses(bought.id)).toEqual([[null, 'pending'], ['pending', 'paid'], ['paid', 'issued'], ['issued', 'refunded']]);
      const notes = (await userStream(admin, 'alice')).filter((e) => e.data.data?.purchase_id === bought.id).map((e) => e.data.title);
      expect(notes).toEqual(['Tickets reserved', 'Payment received', 'Tickets issued', 'Purchase refunded']);
      expect((await get(bought.id)).body.stream_seq).toBe(4);
    });

    it('allows pending → cancelled and paid → refunded; the same status again is a no-op', async () => {
      const a = (await buy({ match_id: 'm1', quantity: 1 })).body;
      expect((await patch(a.id, { status: 'cancelled' })).body.status).toBe('cancelled');
      expect(await patch(a.id, { status: 'cancelled' })).toMatchObject({ status: 200, body: { status: 'cancelled' } });
      expect(await statuses(a.id)).toEqual([[null, 'pending'], ['pending', 'cancelled']]);
      const b = (await buy({ match_id: 'm1', quantity: 1 })).body;
      await patch(b.id, { status: 'paid' });
      expect((await patch(b.id, { status: 'refunded' })).body.status).toBe('refunded');
    });

    it.each([
      [[], 'issued'],
      [[], 'refunded'],
      [['paid'], 'pending'],
      [['paid'], 'cancelled'],
      [['paid', 'issued'], 'paid'],
      [['paid', 'issued'], 'cancelled'],
      [['cancelled'], 'paid'],
      [['paid', 'refunded'], 'issued'],
      [['paid', 'refunded'], 'pending'],
    ])('after %j refuses → %s with 409 INVALID_TRANSITION and writes nothing', async (path, target) => {
      const { body: bought } = await buy({ match_id: 'm1', quantity: 1 });
      for (const status of path) await patch(bought.id, { status });
      const before = await stream(bought.id);
      const answer = await patch(bought.id, { status: target });
      expect(answer).toMatchObject({ status: 409, body: { error: 'INVALID_TRANSITION' } });
      expect(await stream(bought.id)).toEqual(before);
    });

    it('is for the service and admin roles only: the buyer gets 403 FORBIDDEN', async () => {
      const { body: bought } = await buy({ match_id: 'm1', quantity: 1 });
      expect(await patch(bought.id, { status: 'paid' }, alice)).toMatchObject({ status: 403, body: { error: 'FORBIDDEN' } });
      expect(await patch(bought.id, { status: 'paid' }, bob)).toMatchObject({ status: 403, body: { error: 'FORBIDDEN' } });
      expect((await get(bought.id)).body.status).toBe('pending');
    });

    it('404s an unknown purchase and refuses bad ids and bodies', async () => {
      expect(await patch('999999999', { status: 'paid' })).toMatchObject({ status: 404, body: { error: 'NOT_FOUND' } });
      expect(await patch('x1', { status: 'paid' })).toMatchObject({ status: 400, body: { error: 'BAD_REQUEST' } });
      const { body: bought } = await buy({ match_id: 'm1', quantity: 1 });
      for (const body of [{}, { status: 'shipped' }, { status: 1 }, { status: 'paid', quantity: 9 }]) {
        expect(await patch(bought.id, body)).toMatchObject({ status: 400, body: { error: 'VALIDATION_FAILED' } });
      }
      expect(await patch(bought.id, 'paid')).toMatchObject({ status: 400 });
    });
  });

  it('leaves purchase rows to the functions, and shows the gateway only each purchase\'s owner', async () => {
    const client = await admin.connect();
    const as = async (role: string, sql: string) => {
      await client.query(`SET ROLE ${role}`);
      try {
        await client.query(sql);
        return 'ok';
      } catch (error) {
        return (error as { code?: string }).code;
      } finally {
        await client.query('RESET ROLE');
      }
    };
    try {
      expect(await as('matchcast_api', `INSERT INTO purchase (user_id, match_id, quantity) VALUES ('x', 'm1', 1)`)).toBe('42501');
      expect(await as('matchcast_api', `UPDATE purchase SET status = 'issued'`)).toBe('42501');
      expect(await as('matchcast_gateway', 'SELECT id, user_id FROM purchase')).toBe('ok');
      expect(await as('matchcast_gateway', 'SELECT status FROM purchase')).toBe('42501');
      expect(await as('matchcast_gateway', `SELECT matchcast_set_purchase_status(1, 'paid')`)).toBe('42501');
    } finally {
      client.release();
    }
  });
});
