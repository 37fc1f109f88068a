/**
 * Snapshots (the HTTP source's unit) against a real database: only real changes are written,
 * one transaction per match; repeats write nothing; regressions wait for confirmation; two
 * writers applying the same snapshot at once (a leader change) write it once. Also the goal →
 * player_match totals that every source's goals now update.
 */
import { Writer, validateOp, type FeedOp, type HeldChange, type SnapshotOp } from '../src';
import { outbox, startDatabase, type TestDatabase } from './db';

let db: TestDatabase;
const held: HeldChange[] = [];
let writer: Writer;

beforeAll(async () => {
  db = await startDatabase();
  writer = new Writer(db.pool, { held: (change) => held.push(change) });
});
afterAll(() => db?.close());

function snapshot(id: string, change: Partial<SnapshotOp> = {}): SnapshotOp {
  return validateOp({
    op: 'snapshot',
    match_id: id,
    kickoff_at: '2026-05-01T15:00:00Z',
    league: { id: `${id}-lg`, name: 'League' },
    home: { id: `${id}-h`, name: 'Home' },
    away: { id: `${id}-a`, name: 'Away' },
    status: 'scheduled',
    score: { home: 0, away: 0 },
    confirmed: false,
    ...change,
  }) as SnapshotOp;
}

const summary = async (id: string) =>
  (await outbox(db.pool, id)).map((e) =>
    e.type === 'match_event' ? `${e.data.event.type}:${e.data.event.player ?? '-'}:${e.data.score.home}-${e.data.score.away}` : `${e.source}:${e.type}`,
  );

describe('reconcile (snapshot ops)', () => {
  it('writes a new match and each later change once; the same snapshot again writes nothing', async () => {
    expect(await writer.apply(snapshot('r1'))).toBe('applied');
    expect(await writer.apply(snapshot('r1'))).toBe('duplicate');
    const live = snapshot('r1', {
      status: 'live',
      score: { home: 1, away: 0 },
      minute: 20,
      events: [
        { event_id: 'g1', kind: 'goal', minute: 12, team: 'home', player: 'Nine' },
        { event_id: 'c1', kind: 'yellow_card', minute: 15, team: 'away', player: 'Five' },
      ],
    });
    expect(await writer.apply(live)).toBe('applied');
    expect(await writer.apply(live)).toBe('duplicate');
    expect(await writer.apply({ ...live, confirmed: true })).toBe('duplicate');
    expect(await summary('r1')).toEqual([
      'match:match_status',
      'match:match_status',
      'scoreboard:match_update',
      'goal:Nine:1-0',
      'yellow_card:Five:1-0',
      'gameclock:match_update',
    ]);
  });

  it('does not count a goal twice when the score already has it (list first, details later)', async () => {
    await writer.apply(snapshot('r2', { status: 'live', score: { home: 0, away: 1 } }));
    await writer.apply(snapshot('r2', { status: 'live', score: { home: 0, away: 1 }, events: [{ event_id: 'g', kind: 'goal', minute: 3, team: 'away', player: 'Ten' }] }));
    const { rows } = await db.pool.query(`SELECT home_score, away_score FROM scoreboard WHERE match_id = 'r2'`);
    expect(rows).toEqual([{ home_score: 0, away_score: 1 }]);
    expect(await summary('r2')).toEqual(['match:match_status', 'match:match_status', 'scoreboard:match_update', 'goal:Ten:0-1']);
    expect(held).toEqual([]);
  });

  // Before: a snapshot was applied to whatever match had its id: another league's match (two
  // providers, or a provider's ids colliding with a replayed feed's) took its score, status,
  // clock and events, under its own teams, while the snapshot's teams and league were upserted.
  it("refuses a snapshot whose league or teams are not the stored match's (an id collision), writing nothing", async () => {
    expect(await writer.apply(snapshot('x1'))).toBe('applied');
    const before = await summary('x1');
    const other = snapshot('x1', { league: { id: 'other-lg', name: 'Other' }, home: { id: 'o-h', name: 'O H' }, away: { id: 'o-a', name: 'O A' }, status: 'live', score: { home: 3, away: 0 } });
    await expect(writer.apply(other)).rejects.toMatchObject({ code: 'MATCH_CONFLICT' });
    await expect(writer.apply(other)).rejects.toThrow(/"x1" \(league other-lg, o-h v o-a\) does not fit the stored match \(league x1-lg, x1-h v x1-a\)/);
    const swapped = snapshot('x1', { home: { id: 'x1-a', name: 'Away' }, away: { id: 'x1-h', name: 'Home' }, status: 'live', score: { home: 2, away: 0 } });
    await expect(writer.apply(swapped)).rejects.toMatchObject({ code: 'MATCH_CONFLICT' });
    expect(await summary('x1')).toEqual(before);
    const { rows } = await db.pool.query(`SELECT m.status, s.home_score FROM match m LEFT JOIN scoreboard s ON s.match_id = m.id WHERE m.id = 'x1'`);
    expect(rows).toEqual([{ status: 'scheduled', home_score: null }]);
    expect((await db.pool.query(`SELECT 1 FROM league WHERE id = 'other-lg'`)).rowCount).toBe(0);
    // The match's own snapshot still applies.
    expect(await writer.apply(snapshot('x1', { status: 'live' }))).toBe('applied');
  });

  it('holds a status going backwards and a score going down until confirmed, then writes them', async () => {
    await writer.apply(snapshot('r3', { status: 'live', score: { home: 2, away: 0 } }));
    const before = (await summary('r3')).length;
    const glitch = snapshot('r3', { status: 'scheduled', score: { home: 1, away: 0 } });
    expect(await writer.apply(glitch)).toBe('duplicate');
    expect(held.filter((h) => h.match_id === 'r3')).toEqual([
      { match_id: 'r3', field: 'status', stored: 'live', provider: 'scheduled' },
      { match_id: 'r3', field: 'score', stored: '2-0', provider: '1-0' },
    ]);
    expect((await summary('r3')).length).toBe(before);
    expect(await writer.apply({ ...glitch, confirmed: true })).toBe('applied');
    expect((await summary('r3')).slice(before)).toEqual(['match:match_status', 'scoreboard:match_update', 'var:-:1-0']);
  });

  it('two writers applying the same snapshot at once write it once', async () => {
    const other = new Writer(db.pool);
    const goal = snapshot('r4', { status: 'live', score: { home: 1, away: 0 }, events: [{ event_id: 'g', kind: 'goal', minute: 1, team: 'home', player: 'Fast' }] });
    await Promise.all([writer.apply(goal), other.apply(goal), writer.apply(goal)]);
    expect(await summary('r4')).toEqual(['match:match_status', 'match:match_status', 'scoreboard:match_update', 'goal:Fast:1-0']);
  });

  it('writes a final whistle after the last goal', async () => {
    await writer.apply(snapshot('r5', { status: 'live' }));
    await writer.apply(snapshot('r5', { status: 'finished', score: { home: 0, away: 1 }, events: [{ event_id: 'g', kind: 'goal', minute: 90, team: 'away', player: 'Late' }] }));
    expect((await summary('r5')).slice(2)).toEqual(['scoreboard:match_update', 'goal:Late:0-1', 'match:match_status']);
  });
});

describe('player_match totals', () => {
  it('goals, assists and cards add to the players named, from ops and snapshots alike', async () => {
    const ops: FeedOp[] = [
      validateOp({ op: 'fixture', match_id: 'p1', kickoff_at: '2026-05-01T15:00:00Z', league: { id: 'p1-lg', name: 'L' }, home: { id: 'p1-h', name: 'H' }, away: { id: 'p1-a', name: 'A' } }),
      validateOp({
        op: 'lineup',
        match_id: 'p1',
        players: [
          { player_id: 'h9', name: 'Nine', team: 'home', starter: true },
          { player_id: 'h10', name: 'Ten', team: 'home', starter: true },
          { player_id: 'a4', name: 'Four', team: 'away', starter: true },
        ],
      }),
      validateOp({ op: 'goal', match_id: 'p1', minute: 5, team: 'home', player: 'Nine', assist: 'Ten', event_id: 'g1' }),
      validateOp({ op: 'goal', match_id: 'p1', minute: 5, team: 'home', player: 'Nine', assist: 'Ten', event_id: 'g1' }), // a retry
      validateOp({ op: 'goal', match_id: 'p1', minute: 30, team: 'home', player: 'Four', kind: 'own_goal' }),
      validateOp({ op: 'card', match_id: 'p1', minute: 40, team: 'away', player: 'Four', card: 'yellow' }),
    ];
    for (const op of ops) await writer.apply(op);
    await writer.apply(snapshot('p1', { status: 'live', score: { home: 3, away: 0 }, events: [{ event_id: 'g3', kind: 'penalty_goal', minute: 60, team: 'home', player: 'Ten' }] }));
    const { rows } = await db.pool.query(`SELECT player_id, goals, assists, yellow_cards, red_cards FROM player_match WHERE match_id = 'p1' ORDER BY player_id`);
    expect(rows).toEqual([
      { player_id: 'a4', goals: 0, assists: 0, yellow_cards: 1, red_cards: 0 },
      { player_id: 'h10', goals: 1, assists: 1, yellow_cards: 0, red_cards: 0 },
      { player_id: 'h9', goals: 1, assists: 0, yellow_cards: 0, red_cards: 0 },
    ]);
  });
});
