/**
 * Announcements against a real Postgres, as a member of matchcast_api: admin CRUD (roles,
 * validation, unknown targets), the public list of active ones, and each write on the target's
 * stream (announcement, announcement_updated, announcement_expired) in the same transaction;
 * urgent ones as notifications for the target's followers, once.
 */
import pg from 'pg';
import { call, startDatabase, startTestApi, token, userStream, type PostgresServer } from './support';

describe('announcements', () => {
  let server: PostgresServer;
  let admin: pg.Pool;
  let api: Awaited<ReturnType<typeof startTestApi>>;
  let root: string;
  let alice: string;
  let service: string;

  const base = { title: 'Kick-off delayed', message: 'Heavy rain: kick-off moves 30 minutes.', type: 'weather_alert' };
  const create = (body: unknown, as = root) => call(api.url, 'POST', '/api/announcements', { token: as, json: body });
  const patch = (id: string, body: unknown, as = root) => call(api.url, 'PATCH', `/api/announcements/${id}`, { token: as, json: body });
  const remove = (id: string, as = root) => call(api.url, 'DELETE', `/api/announcements/${id}`, { token: as });
  const list = (query: string, as = alice) => call(api.url, 'GET', `/api/announcements?${query}`, { token: as });
  const stream = async (name: string) =>
    (await admin.query(`SELECT seq::int, type, match_id, data FROM outbox WHERE stream = $1 ORDER BY seq`, [name])).rows;
  const future = (ms: number) => new Date(Date.now() + ms).toISOString();
  /** What the notifier's rounds do: urgent announcements' followers notified, a batch at a time, until none is queued. */
  const fanOut = async (batch = 1000) => {
    while ((await admin.query(`SELECT more FROM matchcast_run_announcement_fanout($1)`, [batch])).rows[0].more);
  };

  let apiUrl: string;

  beforeAll(async () => {
    ({ server, admin, apiUrl } = await startDatabase());
    api = await startTestApi(apiUrl);
    [root, alice, service] = await Promise.all([token('root', ['admin']), token('alice'), token('payments', ['service'])]);
  });

  afterAll(async () => {
    await api?.close();
    await admin?.end();
    await server?.destroy();
  });

  describe('permissions and validation', () => {
    it('refuses writes without the admin role (403 FORBIDDEN), and without a token (401)', async () => {
      const a = (await create({ ...base, target: 'everyone' })).body;
      for (const as of [alice, service]) {
        expect((await create({ ...base, target: 'everyone' }, as)).body.error).toBe('FORBIDDEN');
        expect((await patch(a.id, { title: 'x' }, as)).status).toBe(403);
        expect((await remove(a.id, as)).status).toBe(403);
      }
      expect((await call(api.url, 'POST', '/api/announcements', { json: base })).status).toBe(401);
      // Reads are public, like the channels announcements go out on; a bad token is still refused.
      expect((await call(api.url, 'GET', '/api/announcements?target=everyone')).status).toBe(200);
      expect((await call(api.url, 'GET', `/api/announcements/${a.id}`)).body.id).toBe(a.id);
      expect((await call(api.url, 'GET', '/api/announcements?target=everyone', { token: 'not-a-jwt' })).status).toBe(401);
    });

    it('reports every bad field at once (400 VALIDATION_FAILED)', async () => {
      const answer = await create({ title: '', message: 7, type: 'gossip', priority: 'max', target: 'planet', starts_at: 'soon', extra: 1 });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe('VALIDATION_FAILED');
      expect(Object.keys(answer.body.fields).sort()).toEqual(['extra', 'message', 'priority', 'starts_at', 'target', 'title', 'type']);
    });

    it.each<[string, Record<string, unknown>, string]>([
      ['a league without target_id', { target: 'league' }, 'target_id'],
      ['everyone with a target_id', { target: 'everyone', target_id: 'epl' }, 'target_id'],
      ['a malformed target_id', { target: 'team', target_id: 'a b' }, 'target_id'],
      ['an expiry in the past', { target: 'everyone', expires_at: '2001-01-01T00:00:00Z' }, 'expires_at'],
      ['an expiry before the start', { target: 'everyone', starts_at: future(60_000), expires_at: future(30_000) }, 'expires_at'],
      ['an impossible date', { target: 'everyone', starts_at: '2030-02-30T10:00:00Z' }, 'starts_at'],
      ['a start in year 0', { target: 'everyone', starts_at: '0000-06-01T00:00:00Z' }, 'starts_at'],
      ['an expiry in year 10000 in UTC', { target: 'everyone', expires_at: '9999-12-31T23:00:00-05:00' }, 'expires_at'],
      ['a missing target', {}, 'target'],
      ['a NUL in the message', { target: 'everyone', message: 'a\u0000b' }, 'message'],
    ])('refuses %s', async (_case, fields, field) => {
      const answer = await create({ ...base, ...fields });
      expect(answer.status).toBe(400);
      expect(answer.body.fields).toHaveProperty(field);
    });

    it('refuses an edit to a time outside the years 0001-9999 in UTC (400 VALIDATION_FAILED, not a database error)', async () => {
      const a = (await create({ ...base, target: 'everyone' })).body;
      for (const [field, value] of [['expires_at', '9999-12-31T23:00:00-05:00'], ['starts_at', '0000-06-01T00:00:00Z'], ['starts_at', '0001-01-01T00:00:00+01:00']]) {
        const answer = await patch(a.id, { [field as string]: value });
        expect([answer.status, answer.body.error, Object.keys(answer.body.fields)]).toEqual([400, 'VALIDATION_FAILED', [field]]);
      }
    });

    it('refuses a body that is not an object (400), and malformed JSON', async () => {
      expect((await create([1, 2])).body.error).toBe('BAD_REQUEST');
      const raw = await call(api.url, 'POST', '/api/announcements', { token: root, raw: '{"title":', headers: { 'content-type': 'application/json' } });
      expect(raw.status).toBe(400);
    });

    it('answers 404 for a target that does not exist', async () => {
      for (const [target, id] of [['league', 'nope'], ['team', 'nope'], ['match', 'nope']]) {
        const answer = await create({ ...base, target, target_id: id });
        expect([answer.status, answer.body.error]).toEqual([404, 'NOT_FOUND']);
        expect((await list(`target=${target}&target_id=${id}`)).status).toBe(404);
      }
    });

    it('refuses bad list queries (400) and bad ids (400, 404)', async () => {
      expect((await list('target=planet')).status).toBe(400);
      expect((await list('target=league')).status).toBe(400);
      expect((await list('target=everyone&target_id=x')).status).toBe(400);
      expect((await list('target=league&target_id=epl&target_id=x')).status).toBe(400);
      expect((await call(api.url, 'GET', '/api/announcements/abc', { token: root })).status).toBe(400);
      expect((await call(api.url, 'GET', '/api/announcements/99999', { token: root })).status).toBe(404);
      expect((await patch('99999', { title: 'x' })).status).toBe(404);
      expect((await remove('99999')).status).toBe(404);
      expect((await patch('1', {})).body.error).toBe('VALIDATION_FAILED');
      expect((await patch('1', { target: 'league' })).body.fields).toHaveProperty('target');
      expect((await patch('1', { title: null })).body.fields).toHaveProperty('title');
    });
  });

  describe('life of an announcement', () => {
    it('publishes at once, edits, withdraws — each on the league stream, in order, and the list follows', async () => {
      const created = await create({ ...base, priority: 'high', target: 'league', target_id: 'epl' });
      expect(created.status).toBe(201);
      const a = created.body;
      expect(a).toEqual(expect.objectContaining({ target: 'league', target_id: 'epl', state: 'published', created_by: 'root', priority: 'high', starts_at: null }));
      const listed = await list('target=league&target_id=epl');
      expect(listed.body.stream).toBe('league:epl');
      expect(listed.body.announcements.map((x: any) => x.id)).toContain(a.id);
      expect((await call(api.url, 'GET', `/api/announcements/${a.id}`, { token: alice })).body).toEqual(a);

      const edited = await patch(a.id, { message: 'Kick-off moves 45 minutes.' });
      expect(edited.body).toEqual(expect.objectContaining({ message: 'Kick-off moves 45 minutes.', state: 'published' }));
      expect((await patch(a.id, { message: 'Kick-off moves 45 minutes.' })).status).toBe(200); // unchanged: no event
      expect((await patch(a.id, { starts_at: future(60_000) })).body.fields).toHaveProperty('starts_at');

      const withdrawn = await remove(a.id);
      expect(withdrawn.body.state).toBe('expired');
      expect((await remove(a.id)).status).toBe(200);
      expect((await patch(a.id, { title: 'again' })).body.error).toBe('ANNOUNCEMENT_EXPIRED');
      expect((await call(api.url, 'GET', `/api/announcements/${a.id}`, { token: alice })).status).toBe(404);
      expect((await call(api.url, 'GET', `/api/announcements/${a.id}`)).status).toBe(404);
      expect((await call(api.url, 'GET', `/api/announcements/${a.id}`, { token: root })).body.state).toBe('expired');

      const events = (await stream('league:epl')).filter((e) => e.data.id === a.id);
      expect(events.map((e) => e.type)).toEqual(['announcement', 'announcement_updated', 'announcement_expired']);
      expect(events.every((e) => e.match_id === null)).toBe(true);
      expect(events[1].data.message).toBe('Kick-off moves 45 minutes.');
      const after = await list('target=league&target_id=epl');
      expect(after.body.announcements.map((x: any) => x.id)).not.toContain(a.id);
      expect(after.body.stream_seq).toBe(Math.max(...(await stream('league:epl')).map((e) => e.seq)));
    });

    it('routes by target: everyone → all, team → team:<id>, match → match:<id> with its teams and league', async () => {
      const everyone = (await create({ ...base, target: 'everyone' })).body;
      const team = (await create({ ...base, target: 'team', target_id: 'ars' })).body;
      const match = (await create({ ...base, target: 'match', target_id: 'm1' })).body;
      expect((await stream('all')).find((e) => e.data.id === everyone.id)).toEqual(expect.objectContaining({ type: 'announcement', match_id: null }));
      expect((await stream('team:ars')).find((e) => e.data.id === team.id)?.type).toBe('announcement');
      const onMatch = (await stream('match:m1')).find((e) => e.data.id === match.id);
      expect(onMatch).toEqual(expect.objectContaining({ type: 'announcement', match_id: 'm1' }));
      expect(onMatch.data).toEqual(expect.objectContaining({ home_team: { id: 'ars', name: 'Arsenal' }, away_team: { id: 'che', name: 'Chelsea' }, league: { id: 'epl', name: 'Premier League' } }));
      expect((await list('target=everyone')).body.announcements.map((x: any) => x.id)).toContain(everyone.id);
      expect((await list('target=team&target_id=ars')).body.announcements.map((x: any) => x.id)).toContain(team.id);
      expect((await list('target=match&target_id=m1')).body.announcements.map((x: any) => x.id)).toContain(match.id);
    });

    it('keeps a future one scheduled: not listed, no event, not readable by fans; an edit moving its start to now publishes it', async () => {
      const a = (await create({ ...base, target: 'team', target_id: 'che', starts_at: future(3_600_000) })).body;
      expect(a.state).toBe('scheduled');
      expect((await list('target=team&target_id=che')).body.announcements).toEqual([]);
      expect(await stream('team:che')).toEqual([]);
      expect((await call(api.url, 'GET', `/api/announcements/${a.id}`, { token: alice })).status).toBe(404);
      const published = await patch(a.id, { starts_at: null });
      expect(published.body.state).toBe('published');
      expect((await stream('team:che')).map((e) => e.type)).toEqual(['announcement']);
    });

    it("an admin still reads, by id, an announcement whose match is gone (as it still edits and withdraws it)", async () => {
      await admin.query(`INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('gone', 'epl', 'ars', 'che', now())`);
      const a = (await create({ ...base, target: 'match', target_id: 'gone' })).body;
      await admin.query(`DELETE FROM match WHERE id = 'gone'`);
      expect(await call(api.url, 'GET', `/api/announcements/${a.id}`, { token: root })).toMatchObject({ status: 200, body: { id: a.id, target_id: 'gone' } });
      expect((await patch(a.id, { title: 'Called off' })).status).toBe(200);
      expect((await call(api.url, 'GET', `/api/announcements/${a.id}`, { token: root })).body.title).toBe('Called off');
    });

    it('lists urgent first, then newest; an expired one is not listed even before the worker runs', async () => {
      await admin.query(`INSERT INTO league (id, name) VALUES ('liga', 'La Liga')`);
      const low = (await create({ ...base, priority: 'low', target: 'league', target_id: 'liga' })).body;
      const urgent = (await create({ ...base, priority: 'urgent', target: 'league', target_id: 'liga' })).body;
      const normal = (await create({ ...base, target: 'league', target_id: 'liga', expires_at: future(60_000) })).body;
      expect((await list('target=league&target_id=liga')).body.announcements.map((x: any) => x.id)).toEqual([urgent.id, normal.id, low.id]);
      // Past its expiry but not yet expired by the notifier: not active.
      await admin.query(`UPDATE announcement SET expires_at = now() - interval '1 second' WHERE id = $1`, [normal.id]);
      expect((await list('target=league&target_id=liga')).body.announcements.map((x: any) => x.id)).toEqual([urgent.id, low.id]);
    });
  });

  it('the API role writes only through the functions: not the table, the outbox, nor the notifier round', async () => {
    const asApi = new pg.Client({ connectionString: apiUrl });
    await asApi.connect();
    try {
      for (const sql of [
        `INSERT INTO announcement (title, message, type, target, created_by, state) VALUES ('t', 'm', 'general', 'everyone', 'x', 'published')`,
        `UPDATE announcement SET state = 'expired'`,
        `SELECT matchcast_run_announcements(10)`,
        `SELECT matchcast_run_announcement_fanout(10)`,
        `DELETE FROM announcement_fanout`,
        `SELECT matchcast_append('all', 'announcement', 'announcement', NULL, '{}')`,
      ]) {
        await expect(asApi.query(sql)).rejects.toThrow(/permission denied/);
      }
    } finally {
      await asApi.end();
    }
  });

  describe('idempotency_key', () => {
    it('a retry with the key, also many at once, answers the announcement it made (200): one announcement, one event', async () => {
      const body = { ...base, priority: 'urgent', target: 'league', target_id: 'epl', idempotency_key: 'storm-1' };
      const answers = await Promise.all(Array.from({ length: 6 }, () => create(body)));
      expect(answers.map((answer) => answer.status).sort()).toEqual([200, 200, 200, 200, 200, 201]);
      const id = answers[0]!.body.id;
      expect(answers.every((answer) => answer.body.id === id)).toBe(true);
      expect((await admin.query(`SELECT count(*)::int AS n FROM announcement WHERE idempotency_key = 'storm-1'`)).rows[0].n).toBe(1);
      expect((await stream('league:epl')).filter((e) => e.data.id === id)).toHaveLength(1);
      expect((await admin.query(`SELECT count(*)::int AS n FROM announcement_fanout WHERE announcement_id = $1`, [id])).rows[0].n).toBe(1);
      // After an edit and a withdrawal, a late retry still answers it as it is now, and publishes nothing again.
      expect((await remove(id)).status).toBe(200);
      expect(await create(body)).toMatchObject({ status: 200, body: { id, state: 'expired' } });
      // The key for another target is refused; another admin's same key is another announcement.
      expect(await create({ ...body, target: 'team', target_id: 'ars' })).toMatchObject({ status: 409, body: { error: 'IDEMPOTENCY_KEY_REUSED' } });
      const other = await create(body, await token('root2', ['admin']));
      expect(other.status).toBe(201);
      expect(other.body.id).not.toBe(id);
      expect((await create({ ...base, target: 'everyone', idempotency_key: '' })).body.fields).toEqual({ idempotency_key: expect.any(String) });
    });
  });

  describe('urgent notifications', () => {
    it("notify the target's followers once (a match's: the match, both teams and the league), again on no edit", async () => {
      await admin.query(`INSERT INTO follow (user_id, kind, target_id) VALUES
        ('fan1', 'match', 'm1'), ('fan2', 'team', 'che'), ('fan3', 'league', 'epl'), ('fan3', 'team', 'ars'), ('other', 'league', 'liga')`);
      const a = (await create({ ...base, priority: 'urgent', type: 'emergency', target: 'match', target_id: 'm1' })).body;
      await fanOut(1);
      await patch(a.id, { message: 'Stadium evacuated: follow the stewards.' });
      await fanOut(2);
      for (const fan of ['fan1', 'fan2', 'fan3']) {
        const notes = (await userStream(admin, fan)).filter((e) => e.data.data?.announcement_id === a.id);
        expect(notes).toHaveLength(1);
        expect(notes[0]!.data).toEqual(expect.objectContaining({ type: 'announcement', priority: 'urgent', title: base.title, match_id: 'm1', league_id: 'epl' }));
      }
      expect((await userStream(admin, 'other')).filter((e) => e.data.data?.announcement_id === a.id)).toEqual([]);
    });

    it('notify when a published announcement is raised to urgent, and not for a normal one', async () => {
      await admin.query(`INSERT INTO follow (user_id, kind, target_id) VALUES ('fan4', 'team', 'ars')`);
      const a = (await create({ ...base, target: 'team', target_id: 'ars' })).body;
      expect((await userStream(admin, 'fan4')).filter((e) => e.data.data?.announcement_id === a.id)).toEqual([]);
      await fanOut();
      expect((await userStream(admin, 'fan4')).filter((e) => e.data.data?.announcement_id === a.id)).toEqual([]);
      await patch(a.id, { priority: 'urgent' });
      await fanOut();
      await patch(a.id, { title: 'Still urgent' });
      await fanOut();
      expect((await userStream(admin, 'fan4')).filter((e) => e.data.data?.announcement_id === a.id)).toHaveLength(1);
    });

    it('publish at once to a league of 20,000 followers; the fan-out is queued for the notifier, which stops when it is withdrawn', async () => {
      await admin.query(`INSERT INTO league (id, name) VALUES ('big', 'Big League')`);
      await admin.query(`INSERT INTO follow (user_id, kind, target_id) SELECT 'crowd' || lpad(g::text, 5, '0'), 'league', 'big' FROM generate_series(1, 20000) g`);
      // Notifying all of them in the request took longer than the API's 5 s statement timeout: 503, rolled back, every time.
      const created = await create({ ...base, type: 'emergency', priority: 'urgent', target: 'league', target_id: 'big' });
      expect(created.status).toBe(201);
      expect((await admin.query(`SELECT after_user FROM announcement_fanout WHERE announcement_id = $1`, [created.body.id])).rows).toEqual([{ after_user: '' }]);
      const batch = (await admin.query(`SELECT notified, more FROM matchcast_run_announcement_fanout(1000)`)).rows[0];
      expect(batch).toEqual({ notified: 1000, more: true });
      const notified = async () =>
        (await admin.query(`SELECT min(user_id), max(user_id), count(*)::int AS n FROM notification WHERE source_key = $1`, [`announcement:${created.body.id}`])).rows[0];
      expect(await notified()).toEqual({ min: 'crowd00001', max: 'crowd01000', n: 1000 });
      // Withdrawn: the rest is never notified, and the queue is empty.
      expect((await remove(created.body.id)).status).toBe(200);
      await fanOut();
      expect((await notified()).n).toBe(1000);
      expect((await admin.query(`SELECT count(*)::int AS n FROM announcement_fanout`)).rows[0].n).toBe(0);
    });
  });
});
