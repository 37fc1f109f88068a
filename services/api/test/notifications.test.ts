/**
 * The notification centre against a real Postgres, as a member of matchcast_api: create (roles,
 * validation, idempotency), list (filters, paging, expiry), unread count, read, read all,
 * delete — each write checked on the user's stream in the outbox — and owner isolation.
 */
import type pg from 'pg';
import { call, startDatabase, startTestApi, token, userStream, type PostgresServer } from './support';

const FUTURE = new Date(Date.now() + 86_400_000).toISOString();

describe('notifications', () => {
  let server: PostgresServer;
  let admin: pg.Pool;
  let api: Awaited<ReturnType<typeof startTestApi>>;
  let service: string;
  let alice: string;
  let bob: string;

  const notify = (body: Record<string, unknown>, as = service) => call(api.url, 'POST', '/api/notifications', { token: as, json: body });
  const list = (query: string, as = alice) => call(api.url, 'GET', `/api/notifications${query}`, { token: as });
  const base = { title: 'Goal!', message: 'Arsenal 1-0 Chelsea', type: 'goal' };

  beforeAll(async () => {
    let apiUrl: string;
    ({ server, admin, apiUrl } = await startDatabase());
    api = await startTestApi(apiUrl);
    [service, alice, bob] = await Promise.all([token('backend', ['service']), token('alice'), token('bob')]);
  });

  afterAll(async () => {
    await api?.close();
    await admin?.end();
    await server?.destroy();
  });

  describe('POST /api/notifications', () => {
    it('creates one per recipient and appends each to its user\'s stream with the unread count', async () => {
      const answer = await notify({
        ...base,
        user_ids: ['alice', 'bob', 'alice'],
        priority: 'high',
        match_id: 'm1',
        team_id: 'ars',
        league_id: 'epl',
        data: { minute: 12, scorer: 'Saka' },
        expires_at: FUTURE,
      });
      expect(answer.status).toBe(201);
      expect(answer.body).toEqual({
        created: 2,
        duplicates: 0,
        skipped: 0,
        notifications: [
          { id: expect.stringMatching(/^\d+$/), user_id: 'alice' },
          { id: expect.stringMatching(/^\d+$/), user_id: 'bob' },
        ],
      });
      const events = await userStream(admin, 'alice');
      expect(events).toEqual([
        {
          seq: 1,
          type: 'notification',
          data: expect.objectContaining({
            id: answer.body.notifications[0].id,
            user_id: 'alice',
            title: 'Goal!',
            priority: 'high',
            match_id: 'm1',
            data: { minute: 12, scorer: 'Saka' },
            is_read: false,
            expires_at: new Date(FUTURE).toISOString(),
            unread_count: 1,
          }),
        },
      ]);
      expect((await userStream(admin, 'bob')).map((e) => [e.type, e.data.unread_count])).toEqual([['notification', 1]]);
    });

    it('takes user_id for one recipient; the admin role may create too', async () => {
      const admin_ = await token('root', ['admin']);
      const answer = await notify({ ...base, user_id: 'carol' }, admin_);
      expect(answer).toMatchObject({ status: 201, body: { created: 1, notifications: [{ user_id: 'carol' }] } });
    });

    it('needs the service or admin role: 403 FORBIDDEN otherwise, nothing created', async () => {
      const before = (await userStream(admin, 'dave')).length;
      expect(await notify({ ...base, user_id: 'dave' }, alice)).toMatchObject({ status: 403, body: { error: 'FORBIDDEN' } });
      expect(await notify({ ...base, user_id: 'dave' }, await token('x', ['editor']))).toMatchObject({ status: 403 });
      expect((await userStream(admin, 'dave')).length).toBe(before);
    });

    it('with an idempotency_key, a retry creates nothing new (200, created 0) and adds no stream event', async () => {
      const body = { ...base, user_ids: ['erin', 'frank'], idempotency_key: 'goal-m1-12' };
      expect((await notify(body)).body).toMatchObject({ created: 2, duplicates: 0 });
      const retry = await notify(body);
      expect(retry).toMatchObject({ status: 200, body: { created: 0, duplicates: 2, notifications: [] } });
      // A wider retry reaches only the new recipient.
      expect((await notify({ ...body, user_ids: ['erin', 'frank', 'gina'] })).body).toMatchObject({ created: 1, duplicates: 2 });
      expect((await userStream(admin, 'erin')).length).toBe(1);
      const { rows } = await admin.query(`SELECT user_id, source_key FROM notification WHERE user_id IN ('erin', 'frank', 'gina') ORDER BY user_id`);
      expect(rows.map((r) => r.source_key)).toEqual(['api:goal-m1-12', 'api:goal-m1-12', 'api:goal-m1-12']);
    });

    it('concurrent retries with one key still create exactly one per user', async () => {
      const body = { ...base, user_ids: ['hal', 'ian'], idempotency_key: 'race' };
      const answers = await Promise.all(Array.from({ length: 6 }, () => notify(body)));
      expect(answers.reduce((sum, a) => sum + a.body.created, 0)).toBe(2);
      expect((await userStream(admin, 'hal')).length).toBe(1);
    });

    it('a key sent again with another notification is 409 IDEMPOTENCY_KEY_REUSED, and nothing of that request is written', async () => {
      const body = { ...base, user_ids: ['lea', 'max'], data: { a: 1, b: [2] }, expires_at: FUTURE, idempotency_key: 'kickoff-m1' };
      expect((await notify(body)).status).toBe(201);
      // The same notification (data keys in another order, the time in another zone's notation): a replay.
      const same = { ...body, data: { b: [2], a: 1 }, expires_at: FUTURE.replace('Z', '+00:00') };
      expect(await notify(same)).toMatchObject({ status: 200, body: { created: 0, duplicates: 2 } });
      for (const changed of [{ title: 'Kick-off!' }, { message: 'other' }, { type: 'kickoff' }, { priority: 'urgent' }, { match_id: 'm1' }, { data: { a: 2, b: [2] } }, { expires_at: null }]) {
        const answer = await notify({ ...body, ...changed, user_ids: ['lea', 'nia'] });
        expect([changed, answer.status, answer.body.error]).toEqual([changed, 409, 'IDEMPOTENCY_KEY_REUSED']);
      }
      expect(await userStream(admin, 'nia')).toEqual([]);
      expect((await userStream(admin, 'lea')).map((e) => e.data.title)).toEqual(['Goal!']);
    });

    describe('a key outlives the notification its recipient deleted, for 24 hours from its creation (026)', () => {
      const remove = async (user: string, id: string) =>
        expect((await call(api.url, 'DELETE', `/api/notifications/${id}`, { token: await token(user) })).status).toBe(204);

      it('a retry after the recipient deleted it creates nothing (200, counted as a duplicate) and adds no stream event', async () => {
        const body = { ...base, user_ids: ['pia', 'quin'], data: { minute: 3 }, idempotency_key: 'deleted-then-retried' };
        const first = await notify(body);
        expect(first).toMatchObject({ status: 201, body: { created: 2 } });
        await remove('pia', first.body.notifications[0].id);
        const events = (await userStream(admin, 'pia')).length;
        // The same request again, data keys in another order as before: the retry of a timeout.
        expect(await notify({ ...body, data: { minute: 3 } })).toMatchObject({ status: 200, body: { created: 0, duplicates: 2, skipped: 0, notifications: [] } });
        expect((await userStream(admin, 'pia')).length).toBe(events);
        expect((await list('', await token('pia'))).body.total).toBe(0);
        // A wider retry reaches only the new recipient.
        expect((await notify({ ...body, user_ids: ['pia', 'quin', 'rey'] })).body).toMatchObject({ created: 1, duplicates: 2, notifications: [{ user_id: 'rey' }] });
        expect((await admin.query(`SELECT count(*)::int AS n FROM notification WHERE user_id = 'pia'`)).rows[0].n).toBe(0);
      });

      it('another notification under the key of a deleted one is 409 IDEMPOTENCY_KEY_REUSED, for any field, and writes nothing', async () => {
        const body = { ...base, user_ids: ['sam'], priority: 'high', data: { a: 1, b: [2] }, expires_at: FUTURE, idempotency_key: 'deleted-then-reused' };
        const first = await notify(body);
        await remove('sam', first.body.notifications[0].id);
        // The same one, data keys in another order and the time in another zone's notation: still a replay.
        expect(await notify({ ...body, data: { b: [2], a: 1 }, expires_at: FUTURE.replace('Z', '+00:00') })).toMatchObject({ status: 200, body: { duplicates: 1 } });
        const changes = [{ title: 'Kick-off!' }, { message: 'other' }, { type: 'kickoff' }, { priority: 'normal' }, { team_id: 'ars' }, { data: { a: 1, b: [3] } }, { expires_at: null },
          { expires_at: new Date(Date.parse(FUTURE) + 1).toISOString() }];
        for (const changed of changes) {
          const answer = await notify({ ...body, ...changed, user_ids: ['sam', 'tia'] });
          expect([changed, answer.status, answer.body.error]).toEqual([changed, 409, 'IDEMPOTENCY_KEY_REUSED']);
        }
        expect(await userStream(admin, 'tia')).toEqual([]);
        expect((await admin.query(`SELECT count(*)::int AS n FROM notification WHERE user_id = 'sam'`)).rows[0].n).toBe(0);
      });

      it("a deleted notification's fingerprint does not depend on the session's time zone or date style", async () => {
        const fingerprint = `SELECT encode(matchcast_notification_fingerprint('T', 'M', 'goal', 'normal', NULL, NULL, NULL, '{"b": 1, "a": [1.5]}', '2026-12-05T10:00:00.123456Z'), 'hex') AS f`;
        const client = await admin.connect();
        try {
          const first = (await client.query(fingerprint)).rows[0].f;
          await client.query(`SET TimeZone = 'Asia/Kathmandu'; SET DateStyle = 'SQL, DMY'; SET extra_float_digits = -15`);
          expect((await client.query(fingerprint)).rows[0].f).toBe(first);
          await client.query('RESET ALL');
        } finally {
          client.release();
        }
      });

      it('a notification the cleanup removed keeps its key too', async () => {
        const body = { ...base, user_id: 'uma', idempotency_key: 'trimmed-then-retried' };
        await notify(body);
        // As the notifier's cleanup deletes: no stream lock, no event.
        await admin.query(`SELECT matchcast_trim_user_notifications('uma', 0, 10)`);
        expect(await notify(body)).toMatchObject({ status: 200, body: { created: 0, duplicates: 1 } });
        expect((await notify({ ...body, title: 'Other' })).status).toBe(409);
      });

      it('after its 24 hours the key is forgotten: the request creates it again, and the notifier prunes the key', async () => {
        const body = { ...base, user_id: 'vic', idempotency_key: 'deleted-long-ago' };
        const first = await notify(body);
        await remove('vic', first.body.notifications[0].id);
        await admin.query(`UPDATE notification_key SET created_at = now() - interval '24 hours 1 second' WHERE user_id = 'vic'`);
        const again = await notify({ ...body, title: 'Another one may use it now' });
        expect(again).toMatchObject({ status: 201, body: { created: 1 } });
        // Deleted while not yet pruned: remembered anew, from the new one's creation.
        await remove('vic', again.body.notifications[0].id);
        expect((await admin.query(`SELECT created_at > now() - interval '1 minute' AS fresh FROM notification_key WHERE user_id = 'vic'`)).rows).toEqual([{ fresh: true }]);
        expect((await notify(body)).status).toBe(409);
        // A notification deleted more than 24 hours after its creation leaves no key at all.
        const late = await notify({ ...body, user_id: 'wes' });
        await admin.query(`UPDATE notification SET created_at = now() - interval '25 hours' WHERE user_id = 'wes'`);
        await remove('wes', late.body.notifications[0].id);
        expect((await admin.query(`SELECT count(*)::int AS n FROM notification_key WHERE user_id = 'wes'`)).rows[0].n).toBe(0);
        expect((await notify({ ...body, user_id: 'wes' })).status).toBe(201);
        // Pruning: only keys past their 24 hours.
        const recent = await notify({ ...body, user_id: 'xan' });
        await remove('xan', recent.body.notifications[0].id);
        await admin.query(`UPDATE notification_key SET created_at = now() - interval '25 hours' WHERE user_id = 'vic'`);
        const { rows } = await admin.query(`SELECT matchcast_prune_notification_keys(1000) AS pruned`);
        expect(rows[0].pruned).toBeGreaterThanOrEqual(1);
        expect((await admin.query(`SELECT user_id FROM notification_key WHERE user_id IN ('vic', 'xan') OR created_at <= now() - interval '24 hours'`)).rows).toEqual([{ user_id: 'xan' }]);
      });
    });

    it('concurrent requests with one key and different notifications: one is created, the others are 409', async () => {
      const answers = await Promise.all(
        Array.from({ length: 6 }, (_, i) => notify({ ...base, title: `Goal ${i}`, user_id: 'ola', idempotency_key: 'race-bodies' })),
      );
      expect(answers.map((a) => a.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
      expect(answers.filter((a) => a.status === 409).every((a) => a.body.error === 'IDEMPOTENCY_KEY_REUSED')).toBe(true);
      expect((await userStream(admin, 'ola')).length).toBe(1);
    });

    it("about a private league's match: non-members are counted as skipped, not as duplicates (there may be no key at all)", async () => {
      await admin.query(`INSERT INTO league (id, name, private) VALUES ('priv', 'Private', true);
        INSERT INTO team (id, league_id, name) VALUES ('pt1', 'priv', 'P1'), ('pt2', 'priv', 'P2');
        INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('pm', 'priv', 'pt1', 'pt2', now());
        INSERT INTO league_member (league_id, user_id, added_by) VALUES ('priv', 'insider', 'root');
        INSERT INTO league (id, name) VALUES ('pub', 'Public'); INSERT INTO team (id, league_id, name) VALUES ('pubt', 'pub', 'Club')`);
      const body = { ...base, match_id: 'pm', user_ids: ['insider', 'outsider1', 'outsider2'] };
      expect(await notify(body)).toMatchObject({ status: 201, body: { created: 1, duplicates: 0, skipped: 2 } });
      expect(await notify({ ...body, user_ids: ['outsider1'] })).toMatchObject({ status: 200, body: { created: 0, duplicates: 0, skipped: 1 } });
      const keyed = { ...body, idempotency_key: 'pm-kickoff' };
      expect(await notify(keyed)).toMatchObject({ status: 201, body: { created: 1, duplicates: 0, skipped: 2 } });
      expect(await notify(keyed)).toMatchObject({ status: 200, body: { created: 0, duplicates: 1, skipped: 2 } });
      // Naming a public league besides the private match does not open it to everyone: every
      // private league a notification names filters its recipients.
      for (const mixed of [{ league_id: 'pub' }, { team_id: 'pubt' }]) {
        expect([mixed, await notify({ ...body, ...mixed, user_ids: ['insider', 'outsider1'] })])
          .toMatchObject([mixed, { status: 201, body: { created: 1, duplicates: 0, skipped: 1 } }]);
      }
      expect(await userStream(admin, 'outsider1')).toEqual([]);
    });

    it('an idempotency key cannot collide with the notifier\'s outbox:<id> keys', async () => {
      await admin.query(`SELECT matchcast_notify_users(ARRAY['kim'], 't', 'm', 'goal', NULL, NULL, NULL, NULL, NULL, NULL, 'outbox:1')`);
      expect((await notify({ ...base, user_id: 'kim', idempotency_key: 'outbox:1' })).body.created).toBe(1);
    });

    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['no recipients', { ...base }, 'user_ids'],
      ['both user_ids and user_id', { ...base, user_ids: ['a'], user_id: 'a' }, 'user_id'],
      ['an empty user_ids', { ...base, user_ids: [] }, 'user_ids'],
      ['1001 recipients', { ...base, user_ids: Array.from({ length: 1001 }, (_, i) => `u${i}`) }, 'user_ids'],
      ['a bad user id', { ...base, user_ids: ['ok', 'not ok'] }, 'user_ids[1]'],
      ['a numeric user_id', { ...base, user_id: 7 }, 'user_id'],
      ['no title', { ...base, title: undefined, user_id: 'a' }, 'title'],
      ['a blank title', { ...base, title: '   ', user_id: 'a' }, 'title'],
      ['a 201-character title', { ...base, title: 'x'.repeat(201), user_id: 'a' }, 'title'],
      ['a title with NUL', { ...base, title: 'a\u0000b', user_id: 'a' }, 'title'],
      ['a title with a lone surrogate', { ...base, title: 'a\ud800b', user_id: 'a' }, 'title'],
      ['a non-string message', { ...base, message: ['x'], user_id: 'a' }, 'message'],
      ['a 2001-character message', { ...base, message: 'é'.repeat(2001), user_id: 'a' }, 'message'],
      ['a bad type', { ...base, type: 'Goal Scored', user_id: 'a' }, 'type'],
      ['an unknown priority', { ...base, priority: 'critical', user_id: 'a' }, 'priority'],
      ['a bad match_id', { ...base, match_id: 'a/b', user_id: 'a' }, 'match_id'],
      ['a bad team_id', { ...base, team_id: 12, user_id: 'a' }, 'team_id'],
      ['a bad league_id', { ...base, league_id: '', user_id: 'a' }, 'league_id'],
      ['data that is an array', { ...base, data: [1], user_id: 'a' }, 'data'],
      ['data that is a string', { ...base, data: '{}', user_id: 'a' }, 'data'],
      ['data over 4 KiB', { ...base, data: { blob: 'x'.repeat(4100) }, user_id: 'a' }, 'data'],
      ['data just over 4 KiB as jsonb prints it', { ...base, data: Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`k${i}`, 1])), user_id: 'a' }, 'data'],
      ['data nested too deep', { ...base, data: JSON.parse('{"a":'.repeat(40) + '1' + '}'.repeat(40)), user_id: 'a' }, 'data'],
      ['data with NUL', { ...base, data: { k: 'a\u0000' }, user_id: 'a' }, 'data'],
      ['an expires_at in the past', { ...base, expires_at: '2020-01-01T00:00:00Z', user_id: 'a' }, 'expires_at'],
      ['an expires_at without a zone', { ...base, expires_at: '2099-01-01T00:00:00', user_id: 'a' }, 'expires_at'],
      ['an expires_at that is no date', { ...base, expires_at: '2099-02-30T00:00:00Z', user_id: 'a' }, 'expires_at'],
      ['an expires_at in year 10000 in UTC', { ...base, expires_at: '9999-12-31T23:00:00-05:00', user_id: 'a' }, 'expires_at'],
      ['an expires_at as a number', { ...base, expires_at: 4102444800000, user_id: 'a' }, 'expires_at'],
      ['an empty idempotency_key', { ...base, idempotency_key: '', user_id: 'a' }, 'idempotency_key'],
      ['a long idempotency_key', { ...base, idempotency_key: 'k'.repeat(129), user_id: 'a' }, 'idempotency_key'],
      ['a non-ASCII idempotency_key', { ...base, idempotency_key: 'clé', user_id: 'a' }, 'idempotency_key'],
      ['an unknown field', { ...base, user_id: 'a', read: true }, 'read'],
    ];
    it.each(cases)('refuses %s: 400 VALIDATION_FAILED naming the field, nothing created', async (_name, body, field) => {
      const answer = await notify(body);
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe('VALIDATION_FAILED');
      expect(answer.body.fields).toHaveProperty([field]);
      expect((await userStream(admin, 'a')).length).toBe(0);
    });

    it('reports every bad field at once', async () => {
      const answer = await notify({ user_id: 'a b', title: '', type: 'X', priority: 'meh' });
      expect(Object.keys(answer.body.fields).sort()).toEqual(['message', 'priority', 'title', 'type', 'user_id']);
    });

    it('names a field called __proto__ (400 VALIDATION_FAILED), like any unknown field', async () => {
      const raw = JSON.stringify({ ...base, user_id: 'a' }).replace('{', '{"__proto__":1,');
      const answer = await call(api.url, 'POST', '/api/notifications', { token: service, raw, headers: { 'content-type': 'application/json' } });
      expect(answer.status).toBe(400);
      expect(answer.body).toEqual({ error: 'VALIDATION_FAILED', message: 'request body failed validation: __proto__', fields: { ['__proto__']: 'unknown field' } });
      expect((await userStream(admin, 'a')).length).toBe(0);
    });

    it('a body that is not an object: 400 BAD_REQUEST', async () => {
      for (const raw of ['[]', '"x"', '42']) {
        const answer = await call(api.url, 'POST', '/api/notifications', { token: service, raw, headers: { 'content-type': 'application/json' } });
        expect(answer.status).toBe(400);
      }
    });

    it('accepts data at the limit and the largest recipient list in one transaction', async () => {
      const ids = Array.from({ length: 1000 }, (_, i) => `bulk${i}`);
      const answer = await notify({ ...base, user_ids: ids, data: { note: 'y'.repeat(4000) } });
      expect(answer.status).toBe(201);
      expect(answer.body.created).toBe(1000);
      const { rows } = await admin.query(`SELECT count(*)::int AS n FROM outbox WHERE stream LIKE 'user:bulk%'`);
      expect(rows[0].n).toBe(1000);
    });
  });

  describe('reading', () => {
    const ids: string[] = [];

    beforeAll(async () => {
      // lisa: 25 notifications (ids ascending = oldest first), one already expired, one expiring later.
      for (let i = 0; i < 25; i++) {
        const answer = await notify({ ...base, title: `n${i}`, user_id: 'lisa', ...(i === 3 ? { expires_at: FUTURE } : {}) });
        ids.push(answer.body.notifications[0].id);
      }
      await admin.query(`UPDATE notification SET expires_at = now() - interval '1 minute' WHERE id = $1`, [ids[5]]);
    });

    const lisa = () => token('lisa');

    it('lists newest first with total, unread_count and a cursor; expired ones never appear', async () => {
      const answer = await list('', await lisa());
      expect(answer.status).toBe(200);
      expect(answer.body.notifications).toHaveLength(20);
      expect(answer.body.notifications[0]).toMatchObject({ id: ids[24], title: 'n24', is_read: false, read_at: null, user_id: 'lisa' });
      expect(answer.body.total).toBe(24);
      expect(answer.body.unread_count).toBe(24);
      expect(answer.body.next_cursor).toEqual(expect.any(String));
      expect(answer.body.notifications.some((n: { id: string }) => n.id === ids[5])).toBe(false);
    });

    it('answers the seq of the user stream the page was read at', async () => {
      const token_ = await lisa();
      const events = await userStream(admin, 'lisa');
      expect((await list('?limit=1', token_)).body.stream_seq).toBe(events[events.length - 1]!.seq);
      await notify({ ...base, user_id: 'lisa', title: 'later' });
      const after = await list('?limit=1', token_);
      expect(after.body.stream_seq).toBe(events.length + 1);
      expect(after.body.notifications[0].title).toBe('later');
      await call(api.url, 'DELETE', `/api/notifications/${after.body.notifications[0].id}`, { token: token_ });
    });

    it('pages with the cursor through everything exactly once', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: Awaited<ReturnType<typeof list>> = await list(`?limit=7${cursor ? `&cursor=${cursor}` : ''}`, await lisa());
        seen.push(...page.body.notifications.map((n: { id: string }) => n.id));
        cursor = page.body.next_cursor;
      } while (cursor);
      expect(seen).toEqual(ids.filter((_, i) => i !== 5).reverse());
    });

    it('pages with limit and offset', async () => {
      const answer = await list('?limit=5&offset=20', await lisa());
      expect(answer.body.notifications.map((n: { title: string }) => n.title)).toEqual(['n3', 'n2', 'n1', 'n0']);
      expect(answer.body.next_cursor).toBeNull();
      expect((await list('?offset=100', await lisa())).body.notifications).toEqual([]);
    });

    it('unread_only lists only unread ones; total counts the filter', async () => {
      const token_ = await lisa();
      await call(api.url, 'PATCH', `/api/notifications/${ids[24]}/read`, { token: token_ });
      const unread = await list('?unread_only=true&limit=100', token_);
      expect(unread.body.notifications).toHaveLength(23);
      expect(unread.body).toMatchObject({ total: 23, unread_count: 23 });
      expect((await list('?unread_only=false', token_)).body).toMatchObject({ total: 24, unread_count: 23 });
      expect((await call(api.url, 'GET', '/api/notifications/unread-count', { token: token_ })).body).toEqual({ unread_count: 23 });
    });

    it('another user sees none of them', async () => {
      const answer = await list('', await token('nobody'));
      expect(answer.body).toEqual({ notifications: [], total: 0, unread_count: 0, stream_seq: 0, next_cursor: null });
    });

    it.each([
      '?limit=0',
      '?limit=101',
      '?limit=abc',
      '?limit=1.5',
      '?limit=-1',
      '?limit=1&limit=2',
      '?limit=',
      '?offset=-1',
      '?offset=10001',
      '?offset=x',
      '?unread_only=maybe',
      '?unread_only=true&unread_only=false',
      '?cursor=garbage',
      '?cursor=',
      `?cursor=${Buffer.from('n1.99999999999999999999').toString('base64url')}`,
      `?cursor=${Buffer.from('n1.-5').toString('base64url')}`,
      `?cursor=${'A'.repeat(100)}`,
      '?cursor=bjEuMTA&offset=1',
    ])('GET /api/notifications%s: 400 BAD_REQUEST', async (query) => {
      expect(await list(query)).toMatchObject({ status: 400, body: { error: 'BAD_REQUEST' } });
    });
  });

  describe('read, read all, delete', () => {
    let mine: string[];

    beforeEach(async () => {
      await admin.query(`DELETE FROM notification WHERE user_id IN ('mia', 'ned')`);
      const answer = await notify({ ...base, user_ids: ['mia'] });
      const second = await notify({ ...base, user_ids: ['mia'] });
      mine = [answer.body.notifications[0].id, second.body.notifications[0].id];
    });

    it('PATCH /{id}/read marks it read, tells the stream once, and answers the notification', async () => {
      const mia = await token('mia');
      const before = (await userStream(admin, 'mia')).length;
      const answer = await call(api.url, 'PATCH', `/api/notifications/${mine[0]}/read`, { token: mia });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ id: mine[0], is_read: true, read_at: expect.any(String), title: 'Goal!', unread_count: 1 });
      const events = await userStream(admin, 'mia');
      expect(events.slice(before)).toEqual([
        { seq: before + 1, type: 'notification_read', data: { id: mine[0], read_at: answer.body.read_at, unread_count: 1 } },
      ]);
      // Again: the same answer, no second event.
      const again = await call(api.url, 'PATCH', `/api/notifications/${mine[0]}/read`, { token: mia });
      expect(again).toMatchObject({ status: 200, body: { id: mine[0], read_at: answer.body.read_at } });
      expect((await userStream(admin, 'mia')).length).toBe(before + 1);
    });

    it('POST /mark-all-read marks all, tells the stream, and is a no-op the second time', async () => {
      const mia = await token('mia');
      const before = (await userStream(admin, 'mia')).length;
      const answer = await call(api.url, 'POST', '/api/notifications/mark-all-read', { token: mia });
      expect(answer).toMatchObject({ status: 200, body: { marked_as_read: 2, unread_count: 0 } });
      const events = (await userStream(admin, 'mia')).slice(before);
      expect(events).toEqual([{ seq: before + 1, type: 'notifications_read_all', data: { marked_as_read: 2, read_at: expect.any(String), unread_count: 0 } }]);
      expect((await call(api.url, 'POST', '/api/notifications/mark-all-read', { token: mia })).body).toEqual({ marked_as_read: 0, unread_count: 0 });
      expect((await userStream(admin, 'mia')).length).toBe(before + 1);
    });

    it('DELETE /{id} deletes it (204), tells the stream, then answers 404', async () => {
      const mia = await token('mia');
      const before = (await userStream(admin, 'mia')).length;
      expect((await call(api.url, 'DELETE', `/api/notifications/${mine[1]}`, { token: mia })).status).toBe(204);
      expect((await userStream(admin, 'mia')).slice(before)).toEqual([
        { seq: before + 1, type: 'notification_deleted', data: { id: mine[1], unread_count: 1 } },
      ]);
      expect(await call(api.url, 'DELETE', `/api/notifications/${mine[1]}`, { token: mia })).toMatchObject({ status: 404, body: { error: 'NOT_FOUND' } });
      expect((await list('', mia)).body.notifications.map((n: { id: string }) => n.id)).toEqual([mine[0]]);
    });

    it('owner only: another user gets 404 for every id of mia\'s, exactly as for ids that never existed, and changes nothing', async () => {
      const ned = await token('ned');
      const before = (await userStream(admin, 'mia')).length;
      for (const id of [...mine, '999999999']) {
        const read = await call(api.url, 'PATCH', `/api/notifications/${id}/read`, { token: ned });
        const removed = await call(api.url, 'DELETE', `/api/notifications/${id}`, { token: ned });
        expect([read.status, read.body]).toEqual([404, { error: 'NOT_FOUND', message: 'no such notification' }]);
        expect([removed.status, removed.body]).toEqual([404, { error: 'NOT_FOUND', message: 'no such notification' }]);
      }
      expect((await call(api.url, 'POST', '/api/notifications/mark-all-read', { token: ned })).body.marked_as_read).toBe(0);
      expect((await userStream(admin, 'mia')).length).toBe(before);
      expect((await list('', await token('mia'))).body.unread_count).toBe(2);
    });

    it.each(['abc', '-1', '1.5', '0x10', '99999999999999999999', '9223372036854775808', '%20', '1e3'])(
      'a bad id (%s): 400 BAD_REQUEST on PATCH and DELETE',
      async (id) => {
        const mia = await token('mia');
        expect(await call(api.url, 'PATCH', `/api/notifications/${id}/read`, { token: mia })).toMatchObject({ status: 400, body: { error: 'BAD_REQUEST' } });
        expect(await call(api.url, 'DELETE', `/api/notifications/${id}`, { token: mia })).toMatchObject({ status: 400, body: { error: 'BAD_REQUEST' } });
      },
    );

    it('the largest bigint id is valid (404, not 400 or 500)', async () => {
      const mia = await token('mia');
      expect((await call(api.url, 'PATCH', '/api/notifications/9223372036854775807/read', { token: mia })).status).toBe(404);
    });
  });
});
