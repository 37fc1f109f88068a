/**
 * Applies one feed operation as ONE transaction. The database triggers turn each row change
 * into an outbox row and a NOTIFY in the same transaction, so this is the crawler's only output.
 * Every write is an upsert or guarded so that a retried operation (say, after a connection
 * dropped during COMMIT) does not double-apply: fixtures, clocks, lineups and match data are
 * absolute values, and goals, cards and substitutions with an event_id are written once.
 */
import type { Pool, PoolClient } from 'pg';
import { inTransaction } from '@matchcast/db';
import { CrawlerError, isTransient } from './errors';
import type { CardOp, ClockOp, FeedOp, FixtureOp, GoalOp, LineupOp, MatchdataOp, PlayclockOp, StatusOp, SubstitutionOp } from './feed';
import { reconcile, type ReconcileObserver } from './reconcile';

export type WriteOutcome = 'applied' | 'duplicate';

const RUNNING_PERIODS = new Set(['first_half', 'second_half', 'extra_time']);

export class Writer {
  constructor(
    private readonly pool: Pool,
    /** Told about snapshot changes held back as possible provider glitches (logs, metrics). */
    private readonly observer?: ReconcileObserver,
  ) {}

  async apply(op: FeedOp): Promise<WriteOutcome> {
    try {
      return await inTransaction(this.pool, (client) => applyIn(client, op, this.observer));
    } catch (error) {
      throw translate(error, op);
    }
  }
}

/** The statements of one operation, on a client already inside a transaction. */
export async function applyIn(client: PoolClient, op: FeedOp, observer?: ReconcileObserver): Promise<WriteOutcome> {
  switch (op.op) {
    case 'snapshot':
      return reconcile(client, op, observer);
    case 'fixture':
      return fixture(client, op);
    case 'status':
      return status(client, op);
    case 'clock':
      return clock(client, op);
    case 'playclock':
      return playclock(client, op);
    case 'goal':
      return goal(client, op);
    case 'card':
      return card(client, op);
    case 'substitution':
      return substitution(client, op);
    case 'lineup':
      return lineup(client, op);
    case 'matchdata':
      return matchdata(client, op);
  }
}

async function fixture(client: PoolClient, op: FixtureOp): Promise<WriteOutcome> {
  await client.query(
    `INSERT INTO league AS l (id, name, country) VALUES ($1, $2, $3)
     ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, country = COALESCE(EXCLUDED.country, l.country)
     WHERE (l.name, l.country) IS DISTINCT FROM (EXCLUDED.name, COALESCE(EXCLUDED.country, l.country))`,
    [op.league.id, op.league.name, op.league.country ?? null],
  );
  // Teams in id order, so two fixtures upserting the same teams lock them in the same order.
  for (const team of [op.home, op.away].sort((a, b) => (a.id < b.id ? -1 : 1))) {
    await client.query(
      `INSERT INTO team AS t (id, league_id, name, short_name) VALUES ($1, $2, $3, $4)
       ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, short_name = COALESCE(EXCLUDED.short_name, t.short_name)
       WHERE (t.name, t.short_name) IS DISTINCT FROM (EXCLUDED.name, COALESCE(EXCLUDED.short_name, t.short_name))`,
      [team.id, op.league.id, team.name, team.short_name ?? null],
    );
  }
  // An existing match only takes a new kickoff time (the trigger then announces it).
  await client.query(
    `INSERT INTO match AS m (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (id) DO UPDATE SET kickoff_at = EXCLUDED.kickoff_at, updated_at = now()
     WHERE m.kickoff_at IS DISTINCT FROM EXCLUDED.kickoff_at`,
    [op.match_id, op.league.id, op.home.id, op.away.id, op.kickoff_at],
  );
  return 'applied';
}

async function status(client: PoolClient, op: StatusOp): Promise<WriteOutcome> {
  // The update trigger fires only when the status really changes, so a repeat is silent.
  const result = await client.query(
    `UPDATE match SET status = $2,
       updated_at = CASE WHEN status IS DISTINCT FROM $2 THEN now() ELSE updated_at END
     WHERE id = $1`,
    [op.match_id, op.status],
  );
  if (result.rowCount === 0) throw unknownMatch(op);
  return 'applied';
}

async function clock(client: PoolClient, op: ClockOp): Promise<WriteOutcome> {
  await client.query(
    `INSERT INTO gameclock AS g (match_id, minute, period, stoppage_minutes, running) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (match_id) DO UPDATE SET minute = EXCLUDED.minute, period = EXCLUDED.period,
       stoppage_minutes = EXCLUDED.stoppage_minutes, running = EXCLUDED.running, updated_at = now()
     WHERE (g.minute, g.period, g.stoppage_minutes, g.running)
       IS DISTINCT FROM (EXCLUDED.minute, EXCLUDED.period, EXCLUDED.stoppage_minutes, EXCLUDED.running)`,
    [op.match_id, op.minute, op.period, op.stoppage_minutes ?? 0, op.running ?? RUNNING_PERIODS.has(op.period)],
  );
  return 'applied';
}

async function playclock(client: PoolClient, op: PlayclockOp): Promise<WriteOutcome> {
  // No "unchanged" guard: each playclock op is a tick that clients resynchronise on.
  await client.query(
    `INSERT INTO playclock AS p (match_id, seconds, running) VALUES ($1, $2, $3)
     ON CONFLICT (match_id) DO UPDATE SET seconds = EXCLUDED.seconds, running = EXCLUDED.running, updated_at = now()`,
    [op.match_id, op.seconds, op.running],
  );
  return 'applied';
}

async function goal(client: PoolClient, op: GoalOp): Promise<WriteOutcome> {
  if (await seen(client, op.match_id, op.event_id)) return 'duplicate';
  await writeGoal(client, op, true);
  return 'applied';
}

/**
 * A goal's rows: the scoreboard +1 (unless `countScore` is false: the score already includes
 * it), the football_event, and the scorer's and assistant's player_match totals.
 */
export async function writeGoal(client: PoolClient, op: GoalOp, countScore: boolean): Promise<void> {
  // Scoreboard first: the event's trigger snapshots the match, and must see the new score.
  if (countScore) {
    await client.query(
      `INSERT INTO scoreboard AS s (match_id, home_score, away_score) VALUES ($1, $2, $3)
       ON CONFLICT (match_id) DO UPDATE SET home_score = s.home_score + EXCLUDED.home_score,
         away_score = s.away_score + EXCLUDED.away_score, updated_at = now()`,
      [op.match_id, op.team === 'home' ? 1 : 0, op.team === 'away' ? 1 : 0],
    );
  }
  await insertEvent(client, op, op.kind ?? 'goal', { player: op.player, assist: op.assist ?? null });
  // An own goal is credited to `team` but scored by an opponent: it is no goal of theirs.
  if (op.kind !== 'own_goal') await addToPlayer(client, op.match_id, op.team, op.player, 'goals');
  if (op.assist !== undefined) await addToPlayer(client, op.match_id, op.team, op.assist, 'assists');
}

async function card(client: PoolClient, op: CardOp): Promise<WriteOutcome> {
  if (await seen(client, op.match_id, op.event_id)) return 'duplicate';
  await insertEvent(client, op, op.card === 'red' ? 'red_card' : 'yellow_card', { player: op.player });
  await addToPlayer(client, op.match_id, op.team, op.player, op.card === 'red' ? 'red_cards' : 'yellow_cards');
  return 'applied';
}

type PlayerTotal = 'goals' | 'assists' | 'yellow_cards' | 'red_cards';

/**
 * +1 on a player's total in this match. Feeds name players, not ids, so the row is found by
 * team and name: a player without a lineup row (no lineup was sent) has no totals to update,
 * and a name two players of the team share is ambiguous, so neither is credited.
 */
async function addToPlayer(client: PoolClient, matchId: string, team: string, name: string, total: PlayerTotal): Promise<void> {
  await client.query(
    `UPDATE player_match SET ${total} = ${total} + 1
     WHERE match_id = $1 AND team = $2 AND player_name = $3
       AND (SELECT count(*) FROM player_match WHERE match_id = $1 AND team = $2 AND player_name = $3) = 1`,
    [matchId, team, name],
  );
}

async function substitution(client: PoolClient, op: SubstitutionOp): Promise<WriteOutcome> {
  if (await seen(client, op.match_id, op.event_id)) return 'duplicate';
  await insertEvent(client, op, 'substitution', { player: op.player_out, player_in: op.player_in });
  return 'applied';
}

async function lineup(client: PoolClient, op: LineupOp): Promise<WriteOutcome> {
  // player_match has no updated_at, so its update trigger (OLD.* IS DISTINCT FROM NEW.*)
  // already stays silent for players whose row did not change.
  const players = op.players;
  await client.query(
    `INSERT INTO player_match AS pm (match_id, player_id, team, player_name, shirt_number, position, is_starter)
     SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::boolean[])
     ON CONFLICT (match_id, player_id) DO UPDATE SET team = EXCLUDED.team, player_name = EXCLUDED.player_name,
       shirt_number = EXCLUDED.shirt_number, position = EXCLUDED.position, is_starter = EXCLUDED.is_starter`,
    [
      op.match_id,
      players.map((p) => p.player_id),
      players.map((p) => p.team),
      players.map((p) => p.name),
      players.map((p) => p.shirt_number ?? null),
      players.map((p) => p.position ?? null),
      players.map((p) => p.starter),
    ],
  );
  return 'applied';
}

async function matchdata(client: PoolClient, op: MatchdataOp): Promise<WriteOutcome> {
  // Absent fields keep their stored values; `extra` is merged key by key.
  await client.query(
    `INSERT INTO matchdata AS d (match_id, venue, referee, attendance, weather, extra)
     VALUES ($1, $2, $3, $4, $5, COALESCE($6::jsonb, '{}'::jsonb))
     ON CONFLICT (match_id) DO UPDATE SET venue = COALESCE(EXCLUDED.venue, d.venue),
       referee = COALESCE(EXCLUDED.referee, d.referee), attendance = COALESCE(EXCLUDED.attendance, d.attendance),
       weather = COALESCE(EXCLUDED.weather, d.weather), extra = d.extra || COALESCE($6::jsonb, '{}'::jsonb)`,
    [
      op.match_id,
      op.venue ?? null,
      op.referee ?? null,
      op.attendance ?? null,
      op.weather ?? null,
      op.extra === undefined ? null : JSON.stringify(op.extra),
    ],
  );
  return 'applied';
}

/** Whether an event with this event_id was already written for the match (a retried op). */
async function seen(client: PoolClient, matchId: string, eventId: string | undefined): Promise<boolean> {
  if (eventId === undefined) return false;
  const result = await client.query(
    `SELECT 1 FROM football_event WHERE match_id = $1 AND detail->>'event_id' = $2 LIMIT 1`,
    [matchId, eventId],
  );
  return (result.rowCount ?? 0) > 0;
}

export async function insertEvent(
  client: PoolClient,
  op: Pick<GoalOp, 'match_id' | 'minute' | 'team' | 'event_id'>,
  type: string,
  people: { player: string | null; assist?: string | null; player_in?: string },
  extra: Record<string, unknown> = {},
): Promise<void> {
  const detail = op.event_id === undefined ? extra : { ...extra, event_id: op.event_id };
  await client.query(
    `INSERT INTO football_event (match_id, minute, type, team, player, assist, player_in, detail)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)`,
    [op.match_id, op.minute, type, op.team, people.player, people.assist ?? null, people.player_in ?? null, JSON.stringify(detail)],
  );
}

function unknownMatch(op: FeedOp, cause?: unknown): CrawlerError {
  return new CrawlerError('UNKNOWN_MATCH', `match "${op.match_id}" does not exist (send its fixture first)`, { cause });
}

/** Maps constraint errors to stable codes; transient errors pass through untouched for retry. */
function translate(error: unknown, op: FeedOp): unknown {
  if (error instanceof CrawlerError || isTransient(error)) return error;
  const pg = error as { code?: string; constraint?: string; message?: string };
  if (pg.code === '23503' && op.op !== 'fixture') return unknownMatch(op, error);
  return new CrawlerError('OP_REJECTED', `${op.op} for match "${op.match_id}" rejected: ${pg.message ?? String(error)}`, {
    cause: error,
  });
}
