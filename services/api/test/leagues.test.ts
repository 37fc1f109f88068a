/**
 * League routes against a real Postgres as the matchcast_api login: the table 005 keeps
 * (recomputed by the database as results change) and the schedule with its filters, and bad input.
 */
import type pg from 'pg';
import { call, startDatabase, startTestApi, token, type PostgresServer } from './support';

describe('api: leagues', () => {
  let server: PostgresServer;
  let admin: pg.Pool;
  let api: Awaited<ReturnType<typeof startTestApi>>;
  let fan: string;

  beforeAll(async () => {
    let apiUrl: string;
    ({ server, admin, apiUrl } = await startDatabase());
    api = await startTestApi(apiUrl);
    fan = await token('fan');
    // epl has ars, che and m1 (support.ts); add a third team and a fixture list.
    await admin.query(`INSERT INTO team (id, league_id, name) VALUES ('liv', 'epl', 'Liverpool');
      UPDATE match SET kickoff_at = '2026-11-01T15:00Z' WHERE id = 'm1';
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at, status) VALUES
        ('m2', 'epl', 'che', 'liv', '2026-11-08T15:00Z', 'scheduled'),
        ('m3', 'epl', 'liv', 'ars', '2026-11-15T17:30Z', 'scheduled'),
        ('m4', 'epl', 'ars', 'liv', '2026-11-22T12:30Z', 'postponed')`);
  });

  afterAll(async () => {
    await api?.close();
    await admin?.end();
    await server?.destroy();
  });

  const get = (path: string, as = fan) => call(api.url, 'GET', path, { token: as });

  it('GET /api/leagues/{id}/table: every team with zeros before any result, and the league stream seq', async () => {
    const answer = await get('/api/leagues/epl/table');
    expect(answer.status).toBe(200);
    expect(answer.body.league).toEqual({ id: 'epl', name: 'Premier League' });
    expect(answer.body.rows.map((r: any) => [r.position, r.team.id, r.played, r.points])).toEqual([
      [1, 'ars', 0, 0], [2, 'che', 0, 0], [3, 'liv', 0, 0],
    ]);
    expect(answer.body.stream_seq).toBeGreaterThan(0);
  });

  it('follows results: the table after a win and a corrected score, with stream_seq moving one per change', async () => {
    const before = (await get('/api/leagues/epl/table')).body.stream_seq;
    await admin.query(`BEGIN; INSERT INTO scoreboard (match_id, home_score, away_score) VALUES ('m1', 1, 2); UPDATE match SET status = 'finished' WHERE id = 'm1'; COMMIT`);
    let table = (await get('/api/leagues/epl/table')).body;
    expect(table.stream_seq).toBe(before + 1);
    expect(table.rows[0]).toEqual({
      position: 1, team: { id: 'che', name: 'Chelsea' }, played: 1, won: 1, drawn: 0, lost: 0,
      goals_for: 2, goals_against: 1, goal_difference: 1, points: 3,
    });
    await admin.query(`UPDATE scoreboard SET away_score = 1 WHERE match_id = 'm1'`);
    table = (await get('/api/leagues/epl/table')).body;
    expect(table.stream_seq).toBe(before + 2);
    expect(table.rows.map((r: any) => [r.team.id, r.played, r.drawn, r.points])).toEqual([['ars', 1, 1, 1], ['che', 1, 1, 1], ['liv', 0, 0, 0]]);
  });

  it('GET /api/leagues/{id}/schedule: matches by kickoff with teams, status and score', async () => {
    const answer = await get('/api/leagues/epl/schedule');
    expect(answer.status).toBe(200);
    expect(answer.body.league).toEqual({ id: 'epl', name: 'Premier League' });
    expect(answer.body.truncated).toBe(false);
    expect(answer.body.matches[0]).toEqual({
      match_id: 'm1', kickoff_at: '2026-11-01T15:00:00.000Z', status: 'finished',
      home_team: { id: 'ars', name: 'Arsenal' }, away_team: { id: 'che', name: 'Chelsea' }, score: { home: 1, away: 1 },
    });
    expect(answer.body.matches.map((m: any) => m.match_id)).toEqual(['m1', 'm2', 'm3', 'm4']);
  });

  it.each([
    ['from (inclusive) and to (exclusive)', '?from=2026-11-08T15:00:00Z&to=2026-11-22T12:30:00Z', ['m2', 'm3']],
    ['a date for from, with an offset for to', '?from=2026-11-08&to=2026-11-15T19:30:00%2B01:00', ['m2', 'm3']],
    ['one status', '?status=postponed', ['m4']],
    ['several statuses', '?status=scheduled,finished', ['m1', 'm2', 'm3']],
    ['everything combined', '?from=2026-11-02&status=scheduled', ['m2', 'm3']],
    ['nothing in range', '?from=2027-01-01', []],
  ])('filters: %s', async (_name, query, ids) => {
    const answer = await get(`/api/leagues/epl/schedule${query}`);
    expect(answer.status).toBe(200);
    expect(answer.body.matches.map((m: any) => m.match_id)).toEqual(ids);
  });

  it('limit cuts the list and says so', async () => {
    const answer = await get('/api/leagues/epl/schedule?limit=2');
    expect(answer.body.matches.map((m: any) => m.match_id)).toEqual(['m1', 'm2']);
    expect(answer.body.truncated).toBe(true);
  });

  it('an unknown league is 404 NOT_FOUND on both routes', async () => {
    for (const path of ['/api/leagues/nope/table', '/api/leagues/nope/schedule']) {
      expect(await get(path)).toMatchObject({ status: 404, body: { error: 'NOT_FOUND' } });
    }
  });

  it.each([
    ['a malformed league id', '/api/leagues/a%20b/table'],
    ['a league id too long', `/api/leagues/${'x'.repeat(65)}/schedule`],
    ['from that is not a time', '/api/leagues/epl/schedule?from=yesterday'],
    ['from as a number', '/api/leagues/epl/schedule?from=1700000000'],
    ['an impossible date', '/api/leagues/epl/schedule?from=2026-02-30'],
    ['an impossible date with a time', '/api/leagues/epl/schedule?from=2026-02-31T00:00:00Z'],
    ['year 0', '/api/leagues/epl/schedule?from=0000-01-01'],
    ['year 1 that is year 0 in UTC', '/api/leagues/epl/schedule?to=0001-01-01T00:00:00%2B01:00'],
    ['year 9999 that is year 10000 in UTC', '/api/leagues/epl/schedule?from=9999-12-31T23:00:00-05:00'],
    ['an offset beyond 15:59', '/api/leagues/epl/schedule?from=2026-11-01T00:00:00-23:59'],
    ['a time without a zone', '/api/leagues/epl/schedule?to=2026-11-08T15:00:00'],
    ['from after to', '/api/leagues/epl/schedule?from=2026-12-01&to=2026-11-01'],
    ['from given twice', '/api/leagues/epl/schedule?from=2026-11-01&from=2026-11-02'],
    ['an unknown status', '/api/leagues/epl/schedule?status=abandoned'],
    ['an empty status', '/api/leagues/epl/schedule?status='],
    ['a status list with an empty item', '/api/leagues/epl/schedule?status=live,'],
    ['status given twice', '/api/leagues/epl/schedule?status=live&status=finished'],
    ['limit 0', '/api/leagues/epl/schedule?limit=0'],
    ['limit above the maximum', '/api/leagues/epl/schedule?limit=1001'],
  ])('400 BAD_REQUEST for %s', async (_name, path) => {
    const answer = await get(path);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('BAD_REQUEST');
    expect(typeof answer.body.message).toBe('string');
  });

  it('public: answers without a token the same as with one', async () => {
    for (const path of ['/api/leagues/epl/table', '/api/leagues/epl/schedule']) {
      const anonymous = await call(api.url, 'GET', path);
      expect(anonymous.status).toBe(200);
      expect(anonymous.body).toEqual((await get(path)).body);
    }
    expect(await call(api.url, 'GET', '/api/leagues/nope/table')).toMatchObject({ status: 404, body: { error: 'NOT_FOUND' } });
  });

  it.each([
    ['not a bearer header', 'Basic abc'],
    ['a malformed token', 'Bearer not-a-jwt'],
    ['an empty bearer', 'Bearer '],
  ])('a token sent is still verified: 401 UNAUTHORIZED for %s', async (_name, header) => {
    for (const path of ['/api/leagues/epl/table', '/api/leagues/epl/schedule']) {
      const response = await fetch(`${api.url}${path}`, { headers: { authorization: header } });
      expect(response.status).toBe(401);
      expect(((await response.json()) as any).error).toBe('UNAUTHORIZED');
    }
  });
});
