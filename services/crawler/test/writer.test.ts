import { CrawlerError, Writer, validateOp, type FeedOp } from '../src';
import { expectContiguous, outbox, startDatabase, type TestDatabase } from './db';

let db: TestDatabase;
let writer: Writer;

beforeAll(async () => {
  db = await startDatabase();
  writer = new Writer(db.pool);
});
afterAll(() => db?.close());

const fixture = (id: string): FeedOp =>
  validateOp({
    op: 'fixture',
    match_id: id,
    kickoff_at: '2025-01-01T15:00:00.000Z',
    league: { id: `${id}-lg`, name: 'Test League', country: 'Avalon' },
    home: { id: `${id}-h`, name: 'Home FC' },
    away: { id: `${id}-a`, name: 'Away United' },
  });

async function count(table: string, matchId: string): Promise<number> {
  const column = table === 'match' ? 'id' : 'match_id';
  const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE ${column} = $1`, [matchId]);
  return rows[0].n;
}

describe('Writer', () => {
  it('creates a fixture with its league and teams, idempotently', async () => {
    await writer.apply(fixture('w1'));
    await writer.apply(fixture('w1'));
    const { rows } = await db.pool.query(`SELECT m.status, l.name AS league, h.name AS home, a.name AS away
      FROM match m JOIN league l ON l.id = m.league_id JOIN team h ON h.id = m.home_team_id JOIN team a ON a.id = m.away_team_id
      WHERE m.id = 'w1'`);
    expect(rows).toEqual([{ status: 'scheduled', league: 'Test League', home: 'Home FC', away: 'Away United' }]);
    const events = await outbox(db.pool, 'w1');
    expect(events).toHaveLength(1); // the repeat announced nothing
    expect(events[0]).toMatchObject({ stream: 'match:w1', seq: 1, type: 'match_status', source: 'match' });
    expect(events[0]?.data).toMatchObject({ status: 'scheduled', old_status: null, score: { home: 0, away: 0 } });
  });

  it('writes a goal as a scoreboard update then a match_event carrying the new score, in one transaction', async () => {
    await writer.apply(fixture('w2'));
    await writer.apply(validateOp({ op: 'status', match_id: 'w2', status: 'live' }));
    await writer.apply(validateOp({ op: 'goal', match_id: 'w2', minute: 9, team: 'away', player: 'Nine', assist: 'Ten', event_id: 'e1' }));
    await writer.apply(validateOp({ op: 'goal', match_id: 'w2', minute: 20, team: 'home', player: 'Seven', kind: 'penalty_goal' }));
    const events = await outbox(db.pool, 'w2');
    expect(events.map((e) => [e.seq, e.source, e.type])).toEqual([
      [1, 'match', 'match_status'],
      [2, 'match', 'match_status'],
      [3, 'scoreboard', 'match_update'],
      [4, 'football_event', 'match_event'],
      [5, 'scoreboard', 'match_update'],
      [6, 'football_event', 'match_event'],
    ]);
    expect(events[1]?.data).toMatchObject({ status: 'live', old_status: 'scheduled' });
    expect(events[2]?.data).toMatchObject({ update_type: 'score', score: { home: 0, away: 1 }, status: 'live' });
    expect(events[3]?.data).toMatchObject({
      score: { home: 0, away: 1 },
      event: { type: 'goal', minute: 9, team: 'away', player: 'Nine', assist: 'Ten', detail: { event_id: 'e1' } },
    });
    expect(events[5]?.data).toMatchObject({ score: { home: 1, away: 1 }, event: { type: 'penalty_goal', player: 'Seven' } });
    await expectContiguous(db.pool, 'w2');
  });

  it('writes a retried event (same event_id) once', async () => {
    await writer.apply(fixture('w3'));
    const goal = validateOp({ op: 'goal', match_id: 'w3', minute: 1, team: 'home', player: 'A', event_id: 'e1' });
    expect(await writer.apply(goal)).toBe('applied');
    expect(await writer.apply(goal)).toBe('duplicate');
    const card = validateOp({ op: 'card', match_id: 'w3', minute: 2, team: 'away', player: 'B', card: 'red', event_id: 'e2' });
    expect(await writer.apply(card)).toBe('applied');
    expect(await writer.apply(card)).toBe('duplicate');
    const { rows } = await db.pool.query(`SELECT home_score, away_score FROM scoreboard WHERE match_id = 'w3'`);
    expect(rows).toEqual([{ home_score: 1, away_score: 0 }]);
    expect(await count('football_event', 'w3')).toBe(2);
    expect((await outbox(db.pool, 'w3')).length).toBe(1 + 2 + 1);
  });

  it('rolls the whole operation back when any statement fails', async () => {
    await writer.apply(fixture('w4'));
    // Bypasses validation on purpose: the event insert fails its CHECK after the scoreboard update.
    const bad = { op: 'goal', match_id: 'w4', minute: -1, team: 'home', player: 'X' } as FeedOp;
    await expect(writer.apply(bad)).rejects.toMatchObject({ code: 'OP_REJECTED' });
    expect(await count('scoreboard', 'w4')).toBe(0);
    expect((await outbox(db.pool, 'w4')).length).toBe(1);
  });

  it('rejects operations for an unknown match with UNKNOWN_MATCH and writes nothing', async () => {
    for (const op of [
      { op: 'status', match_id: 'nope', status: 'live' },
      { op: 'goal', match_id: 'nope', minute: 1, team: 'home', player: 'X' },
      { op: 'clock', match_id: 'nope', minute: 1, period: 'first_half' },
      { op: 'lineup', match_id: 'nope', players: [{ player_id: 'p', name: 'P', team: 'home', starter: true }] },
    ]) {
      const error = await writer.apply(validateOp(op)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CrawlerError);
      expect(error).toMatchObject({ code: 'UNKNOWN_MATCH' });
    }
    expect((await outbox(db.pool, 'nope')).length).toBe(0);
  });

  it('announces clock and lineup changes once, and repeats not at all', async () => {
    await writer.apply(fixture('w5'));
    const clock = validateOp({ op: 'clock', match_id: 'w5', minute: 10, period: 'first_half' });
    await writer.apply(clock);
    await writer.apply(clock);
    const players = [1, 2, 3].map((n) => ({ player_id: `p${n}`, name: `P${n}`, team: 'home', starter: n < 3, shirt_number: n }));
    const lineup = validateOp({ op: 'lineup', match_id: 'w5', players });
    await writer.apply(lineup);
    await writer.apply(lineup);
    await writer.apply(validateOp({ op: 'playclock', match_id: 'w5', seconds: 600, running: true }));
    await writer.apply(validateOp({ op: 'matchdata', match_id: 'w5', venue: 'Ground', referee: 'Ref' }));
    await writer.apply(validateOp({ op: 'matchdata', match_id: 'w5', attendance: 1234, extra: { tv: 'yes' } }));
    await writer.apply(validateOp({ op: 'matchdata', match_id: 'w5', attendance: 1234 }));
    const events = await outbox(db.pool, 'w5');
    expect(events.map((e) => e.source)).toEqual([
      'match',
      'gameclock',
      'player_match',
      'player_match',
      'player_match',
      'playclock',
      'matchdata',
      'matchdata',
    ]);
    expect(events[1]?.data).toMatchObject({ update_type: 'clock', minute: 10, period: 'first_half' });
    expect(events[5]?.data).toMatchObject({ update_type: 'playclock', playclock: { seconds: 600, running: true } });
    const { rows } = await db.pool.query(`SELECT venue, referee, attendance, extra FROM matchdata WHERE match_id = 'w5'`);
    expect(rows).toEqual([{ venue: 'Ground', referee: 'Ref', attendance: 1234, extra: { tv: 'yes' } }]);
    const { rows: gc } = await db.pool.query(`SELECT minute, period, running FROM gameclock WHERE match_id = 'w5'`);
    expect(gc).toEqual([{ minute: 10, period: 'first_half', running: true }]);
    expect(await count('player_match', 'w5')).toBe(3);
    await expectContiguous(db.pool, 'w5');
  });

  it('writes cards and substitutions as football events', async () => {
    await writer.apply(fixture('w6'));
    await writer.apply(validateOp({ op: 'card', match_id: 'w6', minute: 30, team: 'home', player: 'H', card: 'yellow' }));
    await writer.apply(validateOp({ op: 'substitution', match_id: 'w6', minute: 60, team: 'away', player_out: 'O', player_in: 'I' }));
    const { rows } = await db.pool.query(
      `SELECT type, team, player, player_in FROM football_event WHERE match_id = 'w6' ORDER BY id`,
    );
    expect(rows).toEqual([
      { type: 'yellow_card', team: 'home', player: 'H', player_in: null },
      { type: 'substitution', team: 'away', player: 'O', player_in: 'I' },
    ]);
  });
});
