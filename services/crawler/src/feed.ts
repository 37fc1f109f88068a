/**
 * Feed operations: the crawler's unit of work. Each one is applied as ONE SQL transaction and
 * is plain JSON, so a feed can be recorded as JSON lines and replayed (see docs in README.md).
 * Every operation may carry `at_ms`, its offset from the start of the feed, for replay timing.
 */
import { ID_PATTERN, isStorableText, parseIsoTime, type MatchStatus } from '@matchcast/protocol';
import { FeedError } from './errors';

export type Side = 'home' | 'away';
export type Period = 'pre_match' | 'first_half' | 'half_time' | 'second_half' | 'extra_time' | 'penalties' | 'full_time';
export type GoalKind = 'goal' | 'penalty_goal' | 'own_goal';

export const STATUSES: readonly MatchStatus[] = ['scheduled', 'live', 'half_time', 'finished', 'postponed', 'cancelled'];
export const PERIODS: readonly Period[] = ['pre_match', 'first_half', 'half_time', 'second_half', 'extra_time', 'penalties', 'full_time'];
const SIDES: readonly Side[] = ['home', 'away'];
const GOAL_KINDS: readonly GoalKind[] = ['goal', 'penalty_goal', 'own_goal'];
const CARDS = ['yellow', 'red'] as const;
const EVENT_KINDS: readonly SnapshotEvent['kind'][] = [...GOAL_KINDS, 'yellow_card', 'red_card', 'substitution'];
const SCORE_MAX = 99;
const SNAPSHOT_EVENTS_MAX = 200;

export interface LeagueRef {
  id: string;
  name: string;
  country?: string;
}

export interface TeamRef {
  id: string;
  name: string;
  short_name?: string;
}

interface Timed {
  /** Offset in ms from the start of the feed (replay timing); ignored by the writer. */
  at_ms?: number;
}

/** Creates (or updates the kickoff of) a match; upserts its league and teams. */
export interface FixtureOp extends Timed {
  op: 'fixture';
  match_id: string;
  kickoff_at: string;
  league: LeagueRef;
  home: TeamRef;
  away: TeamRef;
}

export interface StatusOp extends Timed {
  op: 'status';
  match_id: string;
  status: MatchStatus;
}

/** The game clock (gameclock table). `running` defaults to true in a playing period. */
export interface ClockOp extends Timed {
  op: 'clock';
  match_id: string;
  minute: number;
  period: Period;
  stoppage_minutes?: number;
  running?: boolean;
}

/** The fine-grained running clock (playclock table). Every playclock op is an event. */
export interface PlayclockOp extends Timed {
  op: 'playclock';
  match_id: string;
  seconds: number;
  running: boolean;
}

/**
 * A goal: the scoreboard and the football_event change in one transaction. `team` is the side
 * credited with the goal (whose score goes up), also for an own goal (then `player` is an
 * opponent). `event_id` makes the op idempotent: a retried op with the same id is a no-op.
 */
export interface GoalOp extends Timed {
  op: 'goal';
  match_id: string;
  minute: number;
  team: Side;
  player: string;
  assist?: string;
  kind?: GoalKind;
  event_id?: string;
}

export interface CardOp extends Timed {
  op: 'card';
  match_id: string;
  minute: number;
  team: Side;
  player: string;
  card: 'yellow' | 'red';
  event_id?: string;
}

export interface SubstitutionOp extends Timed {
  op: 'substitution';
  match_id: string;
  minute: number;
  team: Side;
  player_out: string;
  player_in: string;
  event_id?: string;
}

export interface LineupPlayer {
  player_id: string;
  name: string;
  team: Side;
  starter: boolean;
  shirt_number?: number;
  position?: string;
}

/** Upserts player_match rows (one per player) in one transaction. */
export interface LineupOp extends Timed {
  op: 'lineup';
  match_id: string;
  players: LineupPlayer[];
}

/** Venue, officials and other slow-changing facts; absent fields keep their stored value. */
export interface MatchdataOp extends Timed {
  op: 'matchdata';
  match_id: string;
  venue?: string;
  referee?: string;
  attendance?: number;
  weather?: string;
  extra?: Record<string, unknown>;
}

/** A goal, card or substitution as a provider reports it inside a snapshot. */
export interface SnapshotEvent {
  /** The provider's id (or one derived from the event's content): what de-duplicates it. */
  event_id: string;
  kind: GoalKind | 'yellow_card' | 'red_card' | 'substitution';
  minute: number;
  team: Side;
  player: string;
  assist?: string;
  player_in?: string;
}

/**
 * A match as a provider sees it now (the HTTP source's unit). The writer diffs it against the
 * database and writes only what changed, in one transaction (see reconcile.ts). `events`
 * absent = the provider did not say (its plan has none): events are left alone. `confirmed`:
 * the provider reported this status and score on the previous poll too, so a status that goes
 * backwards or a score that drops is applied (a VAR correction), not held as a glitch.
 */
export interface SnapshotOp extends Timed {
  op: 'snapshot';
  match_id: string;
  kickoff_at: string;
  league: LeagueRef;
  home: TeamRef;
  away: TeamRef;
  status: MatchStatus;
  score: { home: number; away: number };
  minute?: number;
  events?: SnapshotEvent[];
  confirmed: boolean;
  /** The provider's own "last updated" time: provider lag is measured from it to COMMIT. */
  provider_updated_at?: string;
}

export type FeedOp =
  | SnapshotOp
  | FixtureOp
  | StatusOp
  | ClockOp
  | PlayclockOp
  | GoalOp
  | CardOp
  | SubstitutionOp
  | LineupOp
  | MatchdataOp;

export type OpName = FeedOp['op'];
export const OP_NAMES: readonly OpName[] = [
  'fixture',
  'status',
  'clock',
  'playclock',
  'goal',
  'card',
  'substitution',
  'lineup',
  'matchdata',
  'snapshot',
];

// ---------------------------------------------------------------------------------------------
// Validation: hand-written, so every message names the field and what was wrong with it.

type Json = Record<string, unknown>;

class Fields {
  private readonly seen = new Set<string>();

  constructor(
    private readonly value: Json,
    private readonly path: string,
  ) {}

  private take(key: string): unknown {
    this.seen.add(key);
    return this.value[key];
  }

  private fail(key: string, problem: string): never {
    throw new FeedError(`${this.path}${key} ${problem}`);
  }

  string(key: string, max = 200): string {
    const v = this.take(key);
    if (typeof v !== 'string' || v.length === 0 || v.length > max) this.fail(key, `must be a non-empty string of at most ${max} characters`);
    if (!isStorableText(v)) this.fail(key, UNSTORABLE_TEXT);
    return v;
  }

  optionalString(key: string, max = 200): string | undefined {
    return this.value[key] === undefined ? (this.take(key), undefined) : this.string(key, max);
  }

  id(key: string): string {
    const v = this.take(key);
    if (typeof v !== 'string' || !ID_PATTERN.test(v)) this.fail(key, `must be an id matching ${ID_PATTERN.source}`);
    return v;
  }

  optionalId(key: string): string | undefined {
    return this.value[key] === undefined ? (this.take(key), undefined) : this.id(key);
  }

  int(key: string, min: number, max: number): number {
    const v = this.take(key);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(key, `must be an integer from ${min} to ${max}`);
    return v;
  }

  optionalInt(key: string, min: number, max: number): number | undefined {
    return this.value[key] === undefined ? (this.take(key), undefined) : this.int(key, min, max);
  }

  bool(key: string): boolean {
    const v = this.take(key);
    if (typeof v !== 'boolean') this.fail(key, 'must be true or false');
    return v;
  }

  optionalBool(key: string): boolean | undefined {
    return this.value[key] === undefined ? (this.take(key), undefined) : this.bool(key);
  }

  oneOf<T extends string>(key: string, allowed: readonly T[]): T {
    const v = this.take(key);
    if (typeof v !== 'string' || !allowed.includes(v as T)) this.fail(key, `must be one of ${allowed.join(', ')}`);
    return v as T;
  }

  optionalOneOf<T extends string>(key: string, allowed: readonly T[]): T | undefined {
    return this.value[key] === undefined ? (this.take(key), undefined) : this.oneOf(key, allowed);
  }

  /** Kept as written (Postgres reads it): parseIsoTime makes sure it can. */
  timestamp(key: string): string {
    const v = this.take(key);
    if (typeof v !== 'string' || parseIsoTime(v) === undefined) this.fail(key, TIMESTAMP_RULE);
    return v;
  }

  optionalTimestamp(key: string): string | undefined {
    return this.value[key] === undefined ? (this.take(key), undefined) : this.timestamp(key);
  }

  object(key: string): Fields {
    const v = this.take(key);
    if (!isObject(v)) this.fail(key, 'must be an object');
    return new Fields(v, `${this.path}${key}.`);
  }

  optionalRecord(key: string): Record<string, unknown> | undefined {
    const v = this.take(key);
    if (v === undefined) return undefined;
    if (!isObject(v)) this.fail(key, 'must be an object');
    if (!isStorableJson(v)) this.fail(key, UNSTORABLE_TEXT);
    return v;
  }

  array(key: string, maxLength: number): Fields[] {
    const v = this.take(key);
    if (!Array.isArray(v) || v.length === 0 || v.length > maxLength) this.fail(key, `must be a non-empty array of at most ${maxLength} items`);
    return v.map((item, index) => {
      if (!isObject(item)) this.fail(`${key}[${index}]`, 'must be an object');
      return new Fields(item, `${this.path}${key}[${index}].`);
    });
  }

  optionalArray(key: string, maxLength: number): Fields[] | undefined {
    if (this.value[key] === undefined) return (this.take(key), undefined);
    const v = this.value[key];
    // An empty list is a real answer here ("no events yet"), unlike in array().
    return Array.isArray(v) && v.length === 0 ? (this.take(key), []) : this.array(key, maxLength);
  }

  atMs(): number | undefined {
    const v = this.take('at_ms');
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) this.fail('at_ms', 'must be a number ≥ 0');
    return v;
  }

  /** Unknown keys are errors: a typo ("minit") must not silently drop data. */
  done(): void {
    for (const key of Object.keys(this.value)) {
      if (!this.seen.has(key)) this.fail(key, 'is not a known field');
    }
  }
}

const UNSTORABLE_TEXT = 'must not contain NUL or unpaired surrogate characters';
export const TIMESTAMP_RULE = 'must be an ISO 8601 time with a zone in the years 0001-9999, e.g. 2026-05-01T15:00:00Z';

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every string and key of a JSON value storable (jsonb); iterative, so no nesting exhausts the stack. */
function isStorableJson(root: unknown): boolean {
  const stack = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value === 'string' && !isStorableText(value)) return false;
    if (value === null || typeof value !== 'object') continue;
    if (!Array.isArray(value) && !Object.keys(value).every(isStorableText)) return false;
    for (const child of Object.values(value)) stack.push(child);
  }
  return true;
}

/** Copies only the defined optional fields, so validated ops serialize without `undefined`s. */
function compact<T extends object>(op: T): T {
  for (const key of Object.keys(op) as (keyof T)[]) if (op[key] === undefined) delete op[key];
  return op;
}

const MINUTE_MAX = 200;

/** The match, league and teams that a fixture and a snapshot both carry. */
function fixtureFields(f: Fields): Pick<FixtureOp, 'kickoff_at' | 'league' | 'home' | 'away'> {
  const league = f.object('league');
  const team = (t: Fields): TeamRef => {
    const ref = compact({ id: t.id('id'), name: t.string('name'), short_name: t.optionalString('short_name', 10) });
    t.done();
    return ref;
  };
  const leagueRef = compact({ id: league.id('id'), name: league.string('name'), country: league.optionalString('country') });
  league.done();
  const fields = { kickoff_at: f.timestamp('kickoff_at'), league: leagueRef, home: team(f.object('home')), away: team(f.object('away')) };
  if (fields.home.id === fields.away.id) throw new FeedError('home.id and away.id must differ');
  return fields;
}

function snapshotEvent(e: Fields): SnapshotEvent {
  const event = compact({
    event_id: e.id('event_id'),
    kind: e.oneOf('kind', EVENT_KINDS),
    minute: e.int('minute', 0, MINUTE_MAX),
    team: e.oneOf('team', SIDES),
    player: e.string('player'),
    assist: e.optionalString('assist'),
    player_in: e.optionalString('player_in'),
  });
  e.done();
  if (event.kind === 'substitution' && event.player_in === undefined) throw new FeedError('a substitution needs player_in');
  return event;
}

/**
 * The events of a provider's snapshot that pass validation; the problems of the others are
 * added to `problems`. The HTTP source leaves a bad event out (logged and counted) rather than
 * its whole match, so one unstorable name cannot hold back a match's score and its other
 * events. Anything but an array is returned as it is, for validateOp to judge.
 */
export function keepValidEvents(events: unknown, problems: string[]): unknown {
  if (!Array.isArray(events)) return events;
  return events.filter((event: unknown, index) => {
    try {
      if (!isObject(event)) throw new FeedError(`events[${index}] must be an object`);
      snapshotEvent(new Fields(event, `events[${index}].`));
      return true;
    } catch (error) {
      if (!(error instanceof FeedError)) throw error;
      problems.push(error.problem);
      return false;
    }
  });
}

/** Checks an already-parsed value; throws FeedError naming the bad field. Returns a clean copy. */
export function validateOp(value: unknown): FeedOp {
  if (!isObject(value)) throw new FeedError('an operation must be a JSON object');
  const f = new Fields(value, '');
  const name = f.oneOf('op', OP_NAMES);
  const at_ms = f.atMs();
  const match_id = f.id('match_id');
  let op: FeedOp;
  switch (name) {
    case 'fixture':
      op = { op: name, match_id, ...fixtureFields(f) };
      break;
    case 'snapshot': {
      const fixture = fixtureFields(f);
      const score = f.object('score');
      const scores = { home: score.int('home', 0, SCORE_MAX), away: score.int('away', 0, SCORE_MAX) };
      score.done();
      op = {
        op: name,
        match_id,
        ...fixture,
        status: f.oneOf('status', STATUSES),
        score: scores,
        minute: f.optionalInt('minute', 0, MINUTE_MAX),
        events: f.optionalArray('events', SNAPSHOT_EVENTS_MAX)?.map(snapshotEvent),
        confirmed: f.bool('confirmed'),
        provider_updated_at: f.optionalTimestamp('provider_updated_at'),
      };
      const ids = new Set(op.events?.map((e) => e.event_id));
      if (op.events && ids.size !== op.events.length) throw new FeedError('events must not repeat an event_id');
      break;
    }
    case 'status':
      op = { op: name, match_id, status: f.oneOf('status', STATUSES) };
      break;
    case 'clock':
      op = {
        op: name,
        match_id,
        minute: f.int('minute', 0, MINUTE_MAX),
        period: f.oneOf('period', PERIODS),
        stoppage_minutes: f.optionalInt('stoppage_minutes', 0, 60),
        running: f.optionalBool('running'),
      };
      break;
    case 'playclock':
      op = { op: name, match_id, seconds: f.int('seconds', 0, MINUTE_MAX * 60), running: f.bool('running') };
      break;
    case 'goal':
      op = {
        op: name,
        match_id,
        minute: f.int('minute', 0, MINUTE_MAX),
        team: f.oneOf('team', SIDES),
        player: f.string('player'),
        assist: f.optionalString('assist'),
        kind: f.optionalOneOf('kind', GOAL_KINDS),
        event_id: f.optionalId('event_id'),
      };
      break;
    case 'card':
      op = {
        op: name,
        match_id,
        minute: f.int('minute', 0, MINUTE_MAX),
        team: f.oneOf('team', SIDES),
        player: f.string('player'),
        card: f.oneOf('card', CARDS),
        event_id: f.optionalId('event_id'),
      };
      break;
    case 'substitution':
      op = {
        op: name,
        match_id,
        minute: f.int('minute', 0, MINUTE_MAX),
        team: f.oneOf('team', SIDES),
        player_out: f.string('player_out'),
        player_in: f.string('player_in'),
        event_id: f.optionalId('event_id'),
      };
      break;
    case 'lineup': {
      const players = f.array('players', 100).map((p): LineupPlayer => {
        const player = compact({
          player_id: p.string('player_id', 64),
          name: p.string('name'),
          team: p.oneOf('team', SIDES),
          starter: p.bool('starter'),
          shirt_number: p.optionalInt('shirt_number', 0, 999),
          position: p.optionalString('position', 20),
        });
        p.done();
        return player;
      });
      const ids = new Set(players.map((p) => p.player_id));
      if (ids.size !== players.length) throw new FeedError('players must not repeat a player_id');
      op = { op: name, match_id, players };
      break;
    }
    case 'matchdata':
      op = {
        op: name,
        match_id,
        venue: f.optionalString('venue'),
        referee: f.optionalString('referee'),
        attendance: f.optionalInt('attendance', 0, 10_000_000),
        weather: f.optionalString('weather'),
        extra: f.optionalRecord('extra'),
      };
      break;
  }
  f.done();
  if (at_ms !== undefined) op.at_ms = at_ms;
  return compact(op);
}

/**
 * One line of a JSON-lines feed. Blank lines and lines starting with `#` are comments and give
 * `undefined`; anything else must be one valid operation, or a FeedError names the line.
 */
export function parseFeedLine(line: string, lineNumber: number, file?: string): FeedOp | undefined {
  const text = line.trim();
  if (text === '' || text.startsWith('#')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new FeedError(`not valid JSON (${(error as Error).message})`, lineNumber, file);
  }
  try {
    return validateOp(value);
  } catch (error) {
    if (error instanceof FeedError) throw new FeedError(error.problem, lineNumber, file);
    throw error;
  }
}

/**
 * Namespaces an operation's league, team and match ids (CRAWLER_ID_PREFIX), so runs that share
 * a database cannot collide. Player and event ids are scoped by the match and stay as they are.
 */
export function prefixIds(op: FeedOp, prefix: string): FeedOp {
  if (prefix === '') return op;
  const match_id = `${prefix}${op.match_id}`;
  if (op.op === 'fixture' || op.op === 'snapshot') {
    return {
      ...op,
      match_id,
      league: { ...op.league, id: `${prefix}${op.league.id}` },
      home: { ...op.home, id: `${prefix}${op.home.id}` },
      away: { ...op.away, id: `${prefix}${op.away.id}` },
    };
  }
  return { ...op, match_id };
}

/** A short description for logs. */
export function describeOp(op: FeedOp): Record<string, unknown> {
  return { op: op.op, match_id: op.match_id };
}
