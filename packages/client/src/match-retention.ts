import type { MatchStatus } from './wire.js';

/** Statuses after which a match changes no more (a postponed one is still to be played). */
const ENDED: ReadonlySet<MatchStatus> = new Set(['finished', 'cancelled']);

/** How long an ended match stays after its last change, by default: the evening's results stay up. */
export const DEFAULT_ENDED_TTL_MS = 3 * 60 * 60 * 1000;
/** The most matches a scoreboard holds by default: several full match days of every league. */
export const DEFAULT_MAX_MATCHES = 500;

export interface RetentionLimits {
  /** Ended (finished or cancelled) matches are dropped this long after their last change. */
  endedTtlMs: number;
  /** The most matches held besides kept ones (a user who keeps many does not starve the rest). */
  maxMatches: number;
}

/** Why a match left: its time after the end ran out, or the store was over its size. */
export type DropReason = 'expired' | 'limit';

interface Entry {
  updatedAt: number;
  ended: boolean;
}

/**
 * Which matches a scoreboard may let go, and when. Entries are in the order of their last
 * change (a change moves one to the end), so the oldest come first; kept (pinned) matches are
 * never chosen. It only decides: the scoreboard deletes and tells its listeners.
 */
export class MatchRetention {
  private readonly entries = new Map<string, Entry>();
  /** Match id → how many keep() calls hold it. */
  private readonly pins = new Map<string, number>();

  constructor(readonly limits: Readonly<RetentionLimits>) {
    // Infinity turns a bound off; zero, a negative or not a number is a mistake, not "no bound".
    for (const [name, value] of Object.entries(limits)) {
      if (!(typeof value === 'number' && value > 0)) throw new TypeError(`createScoreboard: \`${name}\` must be a number above 0 (Infinity for no bound)`);
    }
  }

  /** A match changed (loaded or updated) at `now`. */
  touch(matchId: string, status: MatchStatus, now: number): void {
    this.entries.delete(matchId);
    this.entries.set(matchId, { updatedAt: now, ended: ENDED.has(status) });
  }

  forget(matchId: string): void {
    this.entries.delete(matchId);
  }

  /** Holds a match whatever its age or the store's size; returns the release (once). */
  keep(matchId: string): () => void {
    this.pins.set(matchId, (this.pins.get(matchId) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const count = this.pins.get(matchId) ?? 0;
      if (count <= 1) this.pins.delete(matchId);
      else this.pins.set(matchId, count - 1);
    };
  }

  isKept(matchId: string): boolean {
    return this.pins.has(matchId);
  }

  /** Whether more matches are held than `maxMatches` (then `due` picks which go). */
  get overLimit(): boolean {
    return this.unkept() > this.limits.maxMatches;
  }

  /** How many held matches are not kept. */
  private unkept(): number {
    let kept = 0;
    for (const matchId of this.pins.keys()) if (this.entries.has(matchId)) kept++;
    return this.entries.size - kept;
  }

  /**
   * The matches to drop at `now`, in order: ended ones past their time, then, while more than
   * `maxMatches` not kept are held, ended ones oldest first and then any, oldest change first.
   */
  due(now: number): { matchId: string; reason: DropReason }[] {
    const drop: { matchId: string; reason: DropReason }[] = [];
    const chosen = new Set<string>();
    const take = (matchId: string, reason: DropReason) => {
      chosen.add(matchId);
      drop.push({ matchId, reason });
    };
    for (const [matchId, entry] of this.entries) {
      if (entry.ended && now - entry.updatedAt >= this.limits.endedTtlMs && !this.isKept(matchId)) take(matchId, 'expired');
    }
    let excess = this.unkept() - chosen.size - this.limits.maxMatches;
    for (const endedOnly of [true, false]) {
      for (const [matchId, entry] of this.entries) {
        if (excess <= 0) return drop;
        if ((endedOnly && !entry.ended) || chosen.has(matchId) || this.isKept(matchId)) continue;
        take(matchId, 'limit');
        excess--;
      }
    }
    return drop;
  }

  /** When the next ended match's time runs out (undefined: none is waiting). */
  nextExpiry(): number | undefined {
    let next: number | undefined;
    for (const [matchId, entry] of this.entries) {
      if (!entry.ended || this.isKept(matchId)) continue;
      const at = entry.updatedAt + this.limits.endedTtlMs;
      if (next === undefined || at < next) next = at;
    }
    return next !== undefined && Number.isFinite(next) ? next : undefined;
  }
}
