/**
 * A deterministic match simulator. It runs on virtual time: operation n is stamped
 * n × (1000 / eventsPerSecond) ms, so the sequence of operations depends only on the options
 * (seed, rates, sizes, startedAt), never on how fast the database commits. The paced source
 * below then releases operation n at that wall-clock offset.
 *
 * CONCURRENT_MATCHES "slots" each run matches back to back: fixture → kickoff (lineups,
 * status live, clock) → 45 minute ticks with goals, cards and substitutions → stoppage →
 * half time → second half → full time → a short gap → the next fixture. Each tick emits the
 * most overdue slot's next operation; a slot's next operation is due a fixed delay after its
 * previous one was due (or, once it is more than a match minute late because the rate cannot
 * carry every match, after it was emitted: matches then slow down rather than burst). Spare
 * ticks carry playclock updates of the running matches, so the crawler writes exactly
 * eventsPerSecond transactions while any match is being played.
 *
 * Schedule changes: a minute after a fixture is announced, it is sometimes postponed
 * (postponeRate, default 2 %: status postponed, the match is not played and the slot moves on
 * to its next fixture) or rescheduled (rescheduleRate, default 5 %: the fixture is sent again
 * with a kick-off 1–3 match minutes later, and played then). The decisions come from their own
 * seeded generator, so they use up no draws of the main one; the first fixture of each slot is
 * always played as announced, so a fresh run has matches going live at once.
 */
import type { FeedOp, LineupPlayer, Period, Side } from '../feed';
import { Pacer } from './pacer';
import { Random } from './prng';
import * as names from './names';
import type { FeedSource } from './source';

export interface SimulatorOptions {
  seed: number;
  eventsPerSecond: number;
  leagues: number;
  teamsPerLeague: number;
  concurrentMatches: number;
  /** How long one simulated match minute lasts, in virtual (= wall) ms. */
  matchMinuteMs: number;
  /** Wall-clock epoch ms of virtual time 0: kickoff_at values and match ids derive from it. */
  startedAt: number;
  /** Share of fixtures (0–1) postponed before kick-off; DEFAULT_POSTPONE_RATE when omitted. */
  postponeRate?: number;
  /** Share of fixtures (0–1) whose kick-off moves later; DEFAULT_RESCHEDULE_RATE when omitted. */
  rescheduleRate?: number;
}

// Match-minute lengths of the phases around play (compressed from real football).
const FIRST_FIXTURE_STAGGER_MINUTES = 2;
const KICKOFF_LEAD_MINUTES = 5;
const HALF_TIME_BREAK_MINUTES = 5;
const NEXT_FIXTURE_GAP_MINUTES = 3;
/** Schedule changes are rare: about 1 fixture in 50 postponed, 1 in 20 rescheduled. */
export const DEFAULT_POSTPONE_RATE = 0.02;
export const DEFAULT_RESCHEDULE_RATE = 0.05;
/** When a schedule change is announced: this many match minutes after the fixture (before lineups). */
const SCHEDULE_CHANGE_AFTER_MINUTES = 1;
/** A reschedule moves the kick-off this many match minutes later (inclusive range). */
const RESCHEDULE_DELAY_MINUTES = [1, 3] as const;
/** Mixed into the seed for the schedule-change generator (any constant: it only has to differ). */
const SCHEDULE_SEED_SALT = 0x5c4ed0;
const MAX_SUBSTITUTIONS = 5;

const POSITIONS = ['GK', 'DF', 'DF', 'DF', 'DF', 'MF', 'MF', 'MF', 'MF', 'FW', 'FW', 'GK', 'DF', 'MF', 'MF', 'FW'] as const;
const STARTERS = 11;
/** Tolerance for comparing float virtual times (n × 1000/rate is not always exact). */
const EPSILON_MS = 1e-6;

interface Player {
  id: string;
  name: string;
  shirt: number;
  position: (typeof POSITIONS)[number];
}

interface Team {
  id: string;
  name: string;
  shortName: string;
  venue: string;
  squad: Player[];
}

interface League {
  id: string;
  name: string;
  country: string;
  teams: Team[];
}

type Planned =
  | { kind: 'goal'; team: Side; goal: 'goal' | 'penalty_goal' | 'own_goal' }
  | { kind: 'card'; team: Side; card: 'yellow' | 'red' }
  | { kind: 'sub'; team: Side };

/** Who is on the pitch, booked, and left on the bench, per side, during one match. */
interface MatchState {
  matchId: string;
  teams: Record<Side, Team>;
  onPitch: Record<Side, Player[]>;
  bench: Record<Side, Player[]>;
  booked: Set<string>;
  subs: Record<Side, number>;
  events: number;
}

interface Step {
  /** Virtual ms after the slot's previous operation was due. */
  after: number;
  op: FeedOp;
}

interface Slot {
  index: number;
  program: Generator<Step, never, void>;
  pending: Step;
  due: number;
  /** The running playclock of the slot's match, for spare-tick playclock updates. */
  clock: { matchId: string; baseVt: number; baseSeconds: number } | undefined;
}

export class Simulator {
  private readonly rng: Random;
  private readonly scheduleRng: Random;
  private readonly period: number;
  private readonly minute: number;
  private readonly leagues: League[];
  private readonly busy = new Set<string>();
  private readonly slots: Slot[];
  private readonly runTag: string;
  private tick = 0;
  private matchCounter = 0;
  private fillerCursor = 0;
  /** Virtual time of the operation being emitted (read by the slot programs). */
  private now = 0;

  constructor(private readonly options: SimulatorOptions) {
    this.rng = new Random(options.seed);
    this.scheduleRng = new Random((options.seed ^ SCHEDULE_SEED_SALT) >>> 0);
    this.period = 1000 / options.eventsPerSecond;
    this.minute = options.matchMinuteMs;
    // Match ids are unique per run (a restarted crawler must not resume old matches);
    // league and team ids are stable, so their upserts are idempotent across runs.
    this.runTag = `m${Math.floor(options.startedAt / 1000).toString(36)}`;
    this.leagues = this.createWorld();
    this.slots = [];
    for (let index = 0; index < options.concurrentMatches; index++) {
      const slot: Slot = { index, program: this.slotProgram(index), pending: undefined as never, due: 0, clock: undefined };
      this.slots.push(slot);
    }
    // Prime each program in slot order (the first step is built at virtual time 0).
    for (const slot of this.slots) {
      slot.pending = slot.program.next().value;
      slot.due = slot.pending.after;
    }
  }

  /** Virtual time (ms) of the last operation step() returned. */
  get lastVt(): number {
    return this.now;
  }

  /** The next operation, stamped with at_ms (its virtual time, rounded). Never ends. */
  step(): FeedOp {
    for (;;) {
      const vt = this.tick * this.period;
      let best: Slot | undefined;
      for (const slot of this.slots) {
        if (slot.due <= vt + EPSILON_MS && (best === undefined || slot.due < best.due)) best = slot;
      }
      if (best) {
        this.tick++;
        this.now = vt;
        const op = best.pending.op;
        // Running the program to its next step applies what this op means to the match
        // (the code after each `yield` runs when that op is emitted).
        best.pending = best.program.next().value;
        // Plan from the previous due time, so waiting for a free tick does not add up into a
        // slower match; but when the slot is more than a match minute late (the rate cannot
        // carry every match), plan from now: the match slows down instead of bursting.
        const base = vt - best.due > this.minute ? vt : best.due;
        best.due = base + best.pending.after;
        return stamp(op, vt);
      }
      const running = this.slots.filter((slot) => slot.clock !== undefined);
      if (running.length > 0) {
        this.tick++;
        this.now = vt;
        const slot = running[this.fillerCursor++ % running.length] as Slot;
        const clock = slot.clock as NonNullable<Slot['clock']>;
        const seconds = clock.baseSeconds + Math.floor(((vt - clock.baseVt) / this.minute) * 60);
        return stamp({ op: 'playclock', match_id: clock.matchId, seconds: Math.min(seconds, 12_000), running: true }, vt);
      }
      // Nothing due and nothing running: skip the idle ticks (they emit nothing, so skipping
      // them changes no later operation) up to the first tick at or after the next due time.
      const nextDue = Math.min(...this.slots.map((slot) => slot.due));
      this.tick = Math.max(this.tick + 1, Math.ceil(nextDue / this.period));
    }
  }

  private createWorld(): League[] {
    const { leagues: leagueCount, teamsPerLeague } = this.options;
    const cities = this.rng.shuffle(names.CITIES);
    const leagueNames = this.rng.shuffle(names.LEAGUE_NAMES);
    const leagues: League[] = [];
    let teamIndex = 0;
    for (let l = 0; l < leagueCount; l++) {
      const leagueId = `l${l + 1}`;
      const round = Math.floor(l / leagueNames.length);
      const league: League = {
        id: leagueId,
        name: `${leagueNames[l % leagueNames.length]}${round > 0 ? ` ${round + 1}` : ''}`,
        country: this.rng.pick(names.COUNTRIES),
        teams: [],
      };
      for (let t = 0; t < teamsPerLeague; t++, teamIndex++) {
        const city = cities[teamIndex % cities.length] as string;
        const cityRound = Math.floor(teamIndex / cities.length);
        const id = `${leagueId}-t${t + 1}`;
        league.teams.push({
          id,
          name: `${city} ${this.rng.pick(names.CLUB_SUFFIXES)}${cityRound > 0 ? ` ${cityRound + 1}` : ''}`,
          shortName: city.slice(0, 3).toUpperCase(),
          venue: `${city} ${this.rng.pick(['Stadium', 'Park', 'Arena', 'Ground', 'Road'])}`,
          squad: POSITIONS.map((position, i) => ({
            id: `${id}-p${i + 1}`,
            name: `${this.rng.pick(names.FIRST_NAMES)} ${this.rng.pick(names.LAST_NAMES)}`,
            shirt: i + 1,
            position,
          })),
        });
      }
      leagues.push(league);
    }
    return leagues;
  }

  /** Two teams of one league, preferring teams that are not already playing. */
  private pickTeams(): { league: League; home: Team; away: Team } {
    const free = (league: League) => league.teams.filter((team) => !this.busy.has(team.id));
    const candidates = this.leagues.filter((league) => free(league).length >= 2);
    const league = candidates.length > 0 ? this.rng.pick(candidates) : this.rng.pick(this.leagues);
    const [home, away] = this.rng.shuffle(candidates.length > 0 ? free(league) : league.teams) as [Team, Team];
    return { league, home, away };
  }

  private *slotProgram(index: number): Generator<Step, never, void> {
    const M = this.minute;
    // The generator body first runs when the constructor primes it, after this.slots is filled.
    const slot = this.slots[index] as Slot;
    let after = index * FIRST_FIXTURE_STAGGER_MINUTES * M;
    for (let fixture = 0; ; fixture++) {
      const { league, home, away } = this.pickTeams();
      this.busy.add(home.id);
      this.busy.add(away.id);
      const matchId = `${this.runTag}-${++this.matchCounter}`;
      // slot.due is still the due time of the slot's previous op while its program runs.
      const kickoffVt = slot.due + after + KICKOFF_LEAD_MINUTES * M;
      const kickoffAt = new Date(Math.round((this.options.startedAt + kickoffVt) / 1000) * 1000).toISOString();
      yield {
        after,
        op: {
          op: 'fixture',
          match_id: matchId,
          kickoff_at: kickoffAt,
          league: { id: league.id, name: league.name, country: league.country },
          home: { id: home.id, name: home.name, short_name: home.shortName },
          away: { id: away.id, name: away.name, short_name: away.shortName },
        },
      };
      yield { after: 0, op: { op: 'matchdata', match_id: matchId, venue: home.venue, referee: this.rng.pick(names.REFEREES) } };

      let untilKickoff = KICKOFF_LEAD_MINUTES * M;
      const change = fixture === 0 ? 'none' : this.scheduleChange();
      if (change === 'postpone') {
        yield { after: SCHEDULE_CHANGE_AFTER_MINUTES * M, op: { op: 'status', match_id: matchId, status: 'postponed' } };
        this.busy.delete(home.id);
        this.busy.delete(away.id);
        after = NEXT_FIXTURE_GAP_MINUTES * M;
        continue;
      }
      if (change === 'reschedule') {
        const delay = this.scheduleRng.int(...RESCHEDULE_DELAY_MINUTES) * M;
        const newKickoffAt = new Date(Date.parse(kickoffAt) + Math.round(delay / 1000) * 1000).toISOString();
        yield {
          after: SCHEDULE_CHANGE_AFTER_MINUTES * M,
          op: {
            op: 'fixture',
            match_id: matchId,
            kickoff_at: newKickoffAt,
            league: { id: league.id, name: league.name, country: league.country },
            home: { id: home.id, name: home.name, short_name: home.shortName },
            away: { id: away.id, name: away.name, short_name: away.shortName },
          },
        };
        untilKickoff += delay - SCHEDULE_CHANGE_AFTER_MINUTES * M;
      }

      // Kickoff.
      const state: MatchState = {
        matchId,
        teams: { home, away },
        onPitch: { home: home.squad.slice(0, STARTERS), away: away.squad.slice(0, STARTERS) },
        bench: { home: home.squad.slice(STARTERS), away: away.squad.slice(STARTERS) },
        booked: new Set(),
        subs: { home: 0, away: 0 },
        events: 0,
      };
      const plan = this.planEvents();
      yield { after: untilKickoff, op: { op: 'lineup', match_id: matchId, players: lineup(home, 'home') } };
      yield { after: 0, op: { op: 'lineup', match_id: matchId, players: lineup(away, 'away') } };
      yield {
        after: 0,
        op: { op: 'matchdata', match_id: matchId, attendance: this.rng.int(2_000, 60_000), weather: this.rng.pick(names.WEATHER) },
      };
      yield { after: 0, op: { op: 'status', match_id: matchId, status: 'live' } };
      yield { after: 0, op: { op: 'clock', match_id: matchId, minute: 0, period: 'first_half', stoppage_minutes: 0, running: true } };
      yield { after: 0, op: { op: 'playclock', match_id: matchId, seconds: 0, running: true } };
      slot.clock = { matchId, baseVt: this.now, baseSeconds: 0 };

      const firstStoppage = yield* this.playHalf(state, plan, 1, 45, 'first_half', this.rng.int(0, 3));
      yield { after: M, op: { op: 'status', match_id: matchId, status: 'half_time' } };
      slot.clock = undefined;
      yield {
        after: 0,
        op: { op: 'clock', match_id: matchId, minute: 45, period: 'half_time', stoppage_minutes: firstStoppage, running: false },
      };
      yield { after: 0, op: { op: 'playclock', match_id: matchId, seconds: (45 + firstStoppage) * 60, running: false } };

      yield { after: HALF_TIME_BREAK_MINUTES * M, op: { op: 'status', match_id: matchId, status: 'live' } };
      yield { after: 0, op: { op: 'clock', match_id: matchId, minute: 45, period: 'second_half', stoppage_minutes: 0, running: true } };
      yield { after: 0, op: { op: 'playclock', match_id: matchId, seconds: 45 * 60, running: true } };
      slot.clock = { matchId, baseVt: this.now, baseSeconds: 45 * 60 };

      const secondStoppage = yield* this.playHalf(state, plan, 46, 90, 'second_half', this.rng.int(1, 5));
      yield { after: M, op: { op: 'status', match_id: matchId, status: 'finished' } };
      slot.clock = undefined;
      yield {
        after: 0,
        op: { op: 'clock', match_id: matchId, minute: 90, period: 'full_time', stoppage_minutes: secondStoppage, running: false },
      };
      yield { after: 0, op: { op: 'playclock', match_id: matchId, seconds: (90 + secondStoppage) * 60, running: false } };
      this.busy.delete(home.id);
      this.busy.delete(away.id);
      after = NEXT_FIXTURE_GAP_MINUTES * M;
    }
  }

  /** Whether the fixture just announced is postponed, rescheduled or played as announced (one draw). */
  private scheduleChange(): 'postpone' | 'reschedule' | 'none' {
    const r = this.scheduleRng.float();
    const postpone = this.options.postponeRate ?? DEFAULT_POSTPONE_RATE;
    if (r < postpone) return 'postpone';
    return r < postpone + (this.options.rescheduleRate ?? DEFAULT_RESCHEDULE_RATE) ? 'reschedule' : 'none';
  }

  /** Minute ticks of one half with the planned events, then stoppage ticks; returns the stoppage. */
  private *playHalf(
    state: MatchState,
    plan: Map<number, Planned[]>,
    first: number,
    last: number,
    period: Period,
    stoppage: number,
  ): Generator<Step, number, void> {
    const M = this.minute;
    const matchId = state.matchId;
    for (let minute = first; minute <= last; minute++) {
      yield { after: M, op: { op: 'clock', match_id: matchId, minute, period, stoppage_minutes: 0, running: true } };
      for (const planned of plan.get(minute) ?? []) {
        const op = this.eventOp(state, planned, minute);
        if (op) yield { after: 0, op };
      }
    }
    for (let extra = 1; extra <= stoppage; extra++) {
      yield { after: M, op: { op: 'clock', match_id: matchId, minute: last, period, stoppage_minutes: extra, running: true } };
    }
    return stoppage;
  }

  private planEvents(): Map<number, Planned[]> {
    const plan = new Map<number, Planned[]>();
    const add = (minute: number, event: Planned) => {
      const list = plan.get(minute) ?? [];
      list.push(event);
      plan.set(minute, list);
    };
    for (const [team, mean] of [['home', 1.5], ['away', 1.15]] as const) {
      for (let i = this.rng.poisson(mean); i > 0; i--) {
        const r = this.rng.float();
        add(this.rng.int(1, 90), { kind: 'goal', team, goal: r < 0.08 ? 'penalty_goal' : r < 0.11 ? 'own_goal' : 'goal' });
      }
      for (let i = this.rng.int(3, MAX_SUBSTITUTIONS); i > 0; i--) add(this.rng.int(46, 88), { kind: 'sub', team });
    }
    for (let i = this.rng.poisson(3.2); i > 0; i--) {
      add(this.rng.int(5, 90), { kind: 'card', team: this.rng.chance(0.5) ? 'home' : 'away', card: 'yellow' });
    }
    if (this.rng.chance(0.06)) add(this.rng.int(20, 90), { kind: 'card', team: this.rng.chance(0.5) ? 'home' : 'away', card: 'red' });
    return plan;
  }

  /** Resolves a planned event against who is on the pitch now; undefined when it cannot happen. */
  private eventOp(state: MatchState, planned: Planned, minute: number): FeedOp | undefined {
    const matchId = state.matchId;
    const outfield = (side: Side) => state.onPitch[side].filter((p) => p.position !== 'GK');
    const other: Record<Side, Side> = { home: 'away', away: 'home' };
    const eventId = () => `e${++state.events}`;
    switch (planned.kind) {
      case 'goal': {
        const scorerSide = planned.goal === 'own_goal' ? other[planned.team] : planned.team;
        const candidates = outfield(scorerSide);
        if (candidates.length === 0) return undefined;
        const scorer = this.rng.pick(candidates);
        const mates = outfield(planned.team).filter((p) => p.id !== scorer.id);
        const assist = planned.goal === 'goal' && mates.length > 0 && this.rng.chance(0.7) ? this.rng.pick(mates) : undefined;
        return {
          op: 'goal',
          match_id: matchId,
          minute,
          team: planned.team,
          player: scorer.name,
          ...(assist ? { assist: assist.name } : {}),
          kind: planned.goal,
          event_id: eventId(),
        };
      }
      case 'card': {
        const candidates = state.onPitch[planned.team];
        if (candidates.length === 0) return undefined;
        const player = this.rng.pick(candidates);
        // A second yellow is a red.
        const card = planned.card === 'red' || state.booked.has(player.id) ? 'red' : 'yellow';
        state.booked.add(player.id);
        if (card === 'red') state.onPitch[planned.team] = candidates.filter((p) => p.id !== player.id);
        return { op: 'card', match_id: matchId, minute, team: planned.team, player: player.name, card, event_id: eventId() };
      }
      case 'sub': {
        const out = outfield(planned.team);
        const bench = state.bench[planned.team].filter((p) => p.position !== 'GK');
        if (out.length === 0 || bench.length === 0 || state.subs[planned.team] >= MAX_SUBSTITUTIONS) return undefined;
        const playerOut = this.rng.pick(out);
        const playerIn = this.rng.pick(bench);
        state.subs[planned.team]++;
        state.onPitch[planned.team] = [...state.onPitch[planned.team].filter((p) => p.id !== playerOut.id), playerIn];
        state.bench[planned.team] = state.bench[planned.team].filter((p) => p.id !== playerIn.id);
        return {
          op: 'substitution',
          match_id: matchId,
          minute,
          team: planned.team,
          player_out: playerOut.name,
          player_in: playerIn.name,
          event_id: eventId(),
        };
      }
    }
  }
}

function lineup(team: Team, side: Side): LineupPlayer[] {
  return team.squad.map((player, i) => ({
    player_id: player.id,
    name: player.name,
    team: side,
    starter: i < STARTERS,
    shirt_number: player.shirt,
    position: player.position,
  }));
}

function stamp(op: FeedOp, vt: number): FeedOp {
  return { ...op, at_ms: Math.round(vt) };
}

/** The simulator released at its own virtual timing (eventsPerSecond overall). */
export class SimulatorSource implements FeedSource {
  readonly name = 'simulator';

  constructor(
    private readonly simulator: Simulator,
    private readonly pacer = new Pacer(),
  ) {}

  async next(signal: AbortSignal): Promise<FeedOp | undefined> {
    if (signal.aborted) return undefined;
    const op = this.simulator.step();
    await this.pacer.waitUntil(this.simulator.lastVt, signal);
    return signal.aborted ? undefined : op;
  }

  async close(): Promise<void> {
    // Nothing to release: the simulator holds no resources.
  }
}
