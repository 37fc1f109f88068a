/**
 * The demo's provider: an endless schedule of matches in football-data v4's format, each a
 * pure function of the time, so any request at any moment sees a consistent world. Match n
 * kicks off `firstKickoffMs + n × kickoffSpacingMs` after the start; a match is 90 match
 * minutes with a half-time break; its goals and cards come from a PRNG seeded with n (the
 * same run of the feed always plays the same matches). About one match in ten is postponed
 * shortly before kick-off. The list shows the matches from a few minutes back to a few ahead.
 */
import { Random } from '../sources/prng';
import { fdMatch, fdMatchList, type FdBooking, type FdGoal, type FdStatus } from './football-data-json';

export const DEMO_COMPETITION = { id: 9001, code: 'DEMO', name: 'Demo League' };

const TEAMS = ['Harbour City', 'Northgate', 'Riverside', 'Old Town', 'Hillcrest', 'Westfield', 'Eastport', 'Lakeside', 'Millbrook', 'Southbank', 'Kingsford', 'Ashdown'];
const PLAYERS = ['Adams', 'Baker', 'Costa', 'Diallo', 'Evans', 'Fofana', 'Garcia', 'Hansen', 'Ito', 'Jones', 'Kovac', 'Lopez'];

export interface DemoFeedOptions {
  /** Real ms per match minute. */
  matchMinuteMs: number;
  /** Real ms of the half-time break. */
  halfTimeMs: number;
  firstKickoffMs: number;
  kickoffSpacingMs: number;
  startedAt: number;
}

export const DEFAULT_DEMO_FEED: Omit<DemoFeedOptions, 'startedAt'> = {
  matchMinuteMs: 1000,
  halfTimeMs: 10_000,
  firstKickoffMs: 15_000,
  kickoffSpacingMs: 40_000,
};

interface Plan {
  n: number;
  kickoff: number;
  postponed: boolean;
  goals: FdGoal[];
  bookings: FdBooking[];
}

export class DemoFeed {
  constructor(private readonly options: DemoFeedOptions) {}

  /** Provider id of match n. */
  static matchId(n: number): number {
    return 100_000 + n;
  }

  /** The competition's match list as it stands at `now`. */
  list(now: number): Record<string, unknown> {
    const { firstKickoffMs, kickoffSpacingMs, startedAt } = this.options;
    const elapsed = now - startedAt;
    const duration = this.durationMs();
    const first = Math.max(0, Math.ceil((elapsed - firstKickoffMs - duration - 180_000) / kickoffSpacingMs));
    const last = Math.floor((elapsed - firstKickoffMs + 300_000) / kickoffSpacingMs);
    const matches = [];
    for (let n = first; n <= last; n++) matches.push(this.match(n, now, false));
    return fdMatchList(DEMO_COMPETITION, matches);
  }

  /** One match, with its goals and bookings (the detail resource), or undefined when unknown. */
  detail(id: number, now: number): Record<string, unknown> | undefined {
    const n = id - DemoFeed.matchId(0);
    if (!Number.isInteger(n) || n < 0 || this.plan(n).kickoff - now > 86_400_000) return undefined;
    return this.match(n, now, true);
  }

  private durationMs(): number {
    return 90 * this.options.matchMinuteMs + this.options.halfTimeMs;
  }

  private plan(n: number): Plan {
    const random = new Random(0x5eed + n);
    const { firstKickoffMs, kickoffSpacingMs, startedAt } = this.options;
    const side = (): 'home' | 'away' => (random.chance(0.55) ? 'home' : 'away');
    const player = () => ({ id: random.int(1, PLAYERS.length), name: PLAYERS[random.int(0, PLAYERS.length - 1)] as string });
    const goals: FdGoal[] = Array.from({ length: random.int(0, 5) }, () => ({ minute: random.int(1, 90), team: side(), scorer: player() }));
    const bookings: FdBooking[] = Array.from({ length: random.int(0, 3) }, () => ({ minute: random.int(1, 90), team: side(), player: player(), card: random.chance(0.15) ? 'RED' : 'YELLOW' }));
    return {
      n,
      kickoff: startedAt + firstKickoffMs + n * kickoffSpacingMs,
      // Never the first match: a fresh demo has a match going live at once.
      postponed: n > 0 && random.chance(0.1),
      goals: goals.sort((a, b) => a.minute - b.minute),
      bookings: bookings.sort((a, b) => a.minute - b.minute),
    };
  }

  /** Where match n stands at `now`: status, minute, and the events so far. */
  private match(n: number, now: number, withEvents: boolean): Record<string, unknown> {
    const plan = this.plan(n);
    const { matchMinuteMs, halfTimeMs } = this.options;
    const since = now - plan.kickoff;
    const secondHalf = plan.kickoff + 45 * matchMinuteMs + halfTimeMs;
    let status: FdStatus;
    let minute: number | undefined;
    let changedAt: number;
    if (plan.postponed && since > -30_000) {
      status = 'POSTPONED';
      changedAt = plan.kickoff - 30_000;
    } else if (since < 0) {
      status = 'TIMED';
      changedAt = plan.kickoff - 600_000;
    } else if (since < 45 * matchMinuteMs) {
      status = 'IN_PLAY';
      minute = Math.floor(since / matchMinuteMs) + 1;
      changedAt = plan.kickoff + (minute - 1) * matchMinuteMs;
    } else if (now < secondHalf) {
      status = 'PAUSED';
      minute = 45;
      changedAt = plan.kickoff + 45 * matchMinuteMs;
    } else if (now < secondHalf + 45 * matchMinuteMs) {
      status = 'IN_PLAY';
      minute = 46 + Math.floor((now - secondHalf) / matchMinuteMs);
      changedAt = secondHalf + (minute - 46) * matchMinuteMs;
    } else {
      status = 'FINISHED';
      minute = 90;
      changedAt = secondHalf + 45 * matchMinuteMs;
    }
    const played = minute ?? 0;
    const goals = status === 'POSTPONED' ? [] : plan.goals.filter((g) => g.minute <= played);
    const score = status === 'TIMED' || status === 'POSTPONED' ? null : {
      home: goals.filter((g) => g.team === 'home').length,
      away: goals.filter((g) => g.team === 'away').length,
    };
    const halfGoals = goals.filter((g) => g.minute <= 45);
    const home = (2 * n) % TEAMS.length;
    const away = (2 * n + 1) % TEAMS.length;
    const team = (i: number) => ({ id: i + 1, name: TEAMS[i] as string, tla: (TEAMS[i] as string).slice(0, 3).toUpperCase() });
    return fdMatch({
      id: DemoFeed.matchId(n),
      competition: DEMO_COMPETITION,
      utcDate: new Date(plan.kickoff).toISOString().replace(/\.\d+Z$/, 'Z'),
      status,
      home: team(home),
      away: team(away),
      score,
      halfTime: played > 45 ? { home: halfGoals.filter((g) => g.team === 'home').length, away: halfGoals.filter((g) => g.team === 'away').length } : null,
      ...(status === 'IN_PLAY' || status === 'PAUSED' ? { minute } : {}),
      ...(withEvents ? { goals, bookings: plan.bookings.filter((b) => b.minute <= played && status !== 'POSTPONED') } : {}),
      lastUpdated: new Date(changedAt).toISOString().replace(/\.\d+Z$/, 'Z'),
    });
  }
}
