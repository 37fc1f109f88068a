/**
 * Applies a snapshot (a match as a provider sees it now) by diffing it against the database,
 * inside the writer's one transaction, and writing only what really changed: a snapshot seen
 * twice writes nothing. The match row is locked first (FOR UPDATE), so two crawlers that
 * briefly both apply the same match (a leader change) serialize, and the second finds nothing
 * left to write.
 *
 * Regressions — a status that goes backwards (live → scheduled, finished → live) or a score
 * that drops — are what a provider glitch looks like, and also what a VAR correction looks
 * like. They are held (reported to the observer, nothing written) until the provider repeats
 * them on the next poll (`confirmed`); then they are applied, and a dropped score adds a `var`
 * event saying so.
 */
import type { MatchStatus } from '@matchcast/protocol';
import type { PoolClient } from 'pg';
import type { ClockOp, GoalKind, Period, Side, SnapshotEvent, SnapshotOp } from './feed';
import { CrawlerError } from './errors';
import { applyIn, insertEvent, writeGoal, type WriteOutcome } from './writer';

export type HeldField = 'status' | 'score';

export interface HeldChange {
  match_id: string;
  field: HeldField;
  stored: string;
  provider: string;
}

export interface ReconcileObserver {
  /** A regression was seen and not written (it waits for the provider to repeat it). */
  held(change: HeldChange): void;
}

/** Order of the statuses a match moves through; postponed/cancelled stand outside it. */
const STATUS_RANK: Partial<Record<MatchStatus, number>> = { scheduled: 0, live: 1, half_time: 1, finished: 2 };

interface Stored {
  leagueId: string;
  homeId: string;
  awayId: string;
  status: MatchStatus;
  kickoffMs: number;
  home: number;
  away: number;
  clock: string | null;
  eventIds: Set<string>;
}

export async function reconcile(client: PoolClient, op: SnapshotOp, observer?: ReconcileObserver): Promise<WriteOutcome> {
  let stored = await readStored(client, op.match_id);
  if (stored) checkSameMatch(op, stored);
  let changed = false;
  if (stored === undefined || stored.kickoffMs !== Date.parse(op.kickoff_at)) {
    await applyIn(client, { op: 'fixture', match_id: op.match_id, kickoff_at: op.kickoff_at, league: op.league, home: op.home, away: op.away });
    // Read again under the lock: a crawler that inserted the same match a moment earlier has
    // committed by now (our insert waited for it), and its events must not be written twice.
    stored = (await readStored(client, op.match_id)) as Stored;
    checkSameMatch(op, stored);
    changed = true;
  }

  const statusChanges = stored.status !== op.status && allowed(op, 'status', stored.status, op.status, isBackwards(stored.status, op.status), observer);
  // A final whistle goes out after the match's last goals; every other status before them.
  const statusFirst = statusChanges && op.status !== 'finished';
  if (statusFirst) await applyIn(client, { op: 'status', match_id: op.match_id, status: op.status });

  const score = { home: stored.home, away: stored.away };
  for (const event of op.events ?? []) {
    if (stored.eventIds.has(event.event_id)) continue;
    const counted = isGoal(event.kind) && score[event.team] < op.score[event.team];
    if (counted) score[event.team]++;
    await writeEvent(client, op.match_id, event, counted);
    changed = true;
  }

  if (score.home !== op.score.home || score.away !== op.score.away) {
    const drop = op.score.home < score.home || op.score.away < score.away;
    const shown = (s: { home: number; away: number }) => `${s.home}-${s.away}`;
    if (allowed(op, 'score', shown(score), shown(op.score), drop, observer)) {
      await setScore(client, op.match_id, op.score);
      if (drop) await recordCorrection(client, op, score);
      changed = true;
    }
  }

  const clock = clockOf(op);
  if (clock && clockKey(clock) !== stored.clock) {
    await applyIn(client, clock);
    changed = true;
  }
  if (statusChanges && !statusFirst) await applyIn(client, { op: 'status', match_id: op.match_id, status: op.status });
  return changed || statusChanges ? 'applied' : 'duplicate';
}

/**
 * A snapshot is about the stored match only if it names the same league and the same teams on
 * the same sides: the same id for another league's match (two providers, or a provider's ids
 * meeting a replayed feed's) or with its sides swapped would write its score and events onto a
 * match they do not belong to. Refused whole (the writer's transaction rolls back), logged and
 * counted apart from the database's rejections.
 */
function checkSameMatch(op: SnapshotOp, stored: Stored): void {
  if (stored.leagueId === op.league.id && stored.homeId === op.home.id && stored.awayId === op.away.id) return;
  throw new CrawlerError(
    'MATCH_CONFLICT',
    `snapshot for match "${op.match_id}" (league ${op.league.id}, ${op.home.id} v ${op.away.id}) does not fit the stored match ` +
      `(league ${stored.leagueId}, ${stored.homeId} v ${stored.awayId}): ids collide, or the provider moved it; nothing written`,
  );
}

/** Whether a change may be written now: always, unless it is a regression not yet confirmed. */
function allowed(op: SnapshotOp, field: HeldField, stored: string, provider: string, regression: boolean, observer?: ReconcileObserver): boolean {
  if (!regression || op.confirmed) return true;
  observer?.held({ match_id: op.match_id, field, stored, provider });
  return false;
}

function isBackwards(from: MatchStatus, to: MatchStatus): boolean {
  const a = STATUS_RANK[from];
  const b = STATUS_RANK[to];
  return a !== undefined && b !== undefined && b < a;
}

function isGoal(kind: SnapshotEvent['kind']): kind is GoalKind {
  return kind === 'goal' || kind === 'penalty_goal' || kind === 'own_goal';
}

async function writeEvent(client: PoolClient, matchId: string, event: SnapshotEvent, countScore: boolean): Promise<void> {
  const base = { match_id: matchId, minute: event.minute, team: event.team, event_id: event.event_id };
  if (isGoal(event.kind)) {
    await writeGoal(client, { op: 'goal', ...base, player: event.player, assist: event.assist, kind: event.kind }, countScore);
  } else if (event.kind === 'substitution') {
    await applyIn(client, { op: 'substitution', ...base, player_out: event.player, player_in: event.player_in as string });
  } else {
    await applyIn(client, { op: 'card', ...base, player: event.player, card: event.kind === 'red_card' ? 'red' : 'yellow' });
  }
}

async function setScore(client: PoolClient, matchId: string, score: { home: number; away: number }): Promise<void> {
  await client.query(
    `INSERT INTO scoreboard AS s (match_id, home_score, away_score) VALUES ($1, $2, $3)
     ON CONFLICT (match_id) DO UPDATE SET home_score = EXCLUDED.home_score, away_score = EXCLUDED.away_score, updated_at = now()
     WHERE (s.home_score, s.away_score) IS DISTINCT FROM (EXCLUDED.home_score, EXCLUDED.away_score)`,
    [matchId, score.home, score.away],
  );
}

/** A confirmed score drop is news too: a `var` event on the side that lost a goal. */
async function recordCorrection(client: PoolClient, op: SnapshotOp, before: { home: number; away: number }): Promise<void> {
  const team: Side = op.score.home < before.home ? 'home' : 'away';
  await insertEvent(client, { match_id: op.match_id, minute: op.minute ?? 0, team }, 'var', { player: null }, {
    reason: 'score_corrected',
    score_before: before,
    score_after: op.score,
  });
}

/** The game clock a live snapshot implies (providers give a minute, not a period). */
function clockOf(op: SnapshotOp): ClockOp | undefined {
  if (op.minute === undefined || (op.status !== 'live' && op.status !== 'half_time')) return undefined;
  const period: Period = op.status === 'half_time' ? 'half_time' : op.minute <= 45 ? 'first_half' : op.minute <= 90 ? 'second_half' : 'extra_time';
  return { op: 'clock', match_id: op.match_id, minute: op.minute, period };
}

function clockKey(clock: ClockOp): string {
  return `${clock.minute}/${clock.period}`;
}

async function readStored(client: PoolClient, matchId: string): Promise<Stored | undefined> {
  const { rows } = await client.query<{
    league_id: string;
    home_team_id: string;
    away_team_id: string;
    status: MatchStatus;
    kickoff_at: Date;
    home: number;
    away: number;
    clock: string | null;
    event_ids: string[];
  }>(
    `SELECT m.league_id, m.home_team_id, m.away_team_id, m.status, m.kickoff_at, COALESCE(s.home_score, 0) AS home, COALESCE(s.away_score, 0) AS away,
       g.minute || '/' || g.period AS clock,
       ARRAY(SELECT e.detail->>'event_id' FROM football_event e WHERE e.match_id = m.id AND e.detail ? 'event_id') AS event_ids
     FROM match m LEFT JOIN scoreboard s ON s.match_id = m.id LEFT JOIN gameclock g ON g.match_id = m.id
     WHERE m.id = $1 FOR UPDATE OF m`,
    [matchId],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    leagueId: row.league_id,
    homeId: row.home_team_id,
    awayId: row.away_team_id,
    status: row.status,
    kickoffMs: row.kickoff_at.getTime(),
    home: row.home,
    away: row.away,
    clock: row.clock,
    eventIds: new Set(row.event_ids),
  };
}
