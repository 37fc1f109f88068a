/**
 * The HTTP source: polls a provider's match lists (and, optionally, the details of live
 * matches), maps each match to a snapshot through the provider's adapter, validates it, and
 * hands on the snapshots that differ from the last one it handed on. The writer diffs each
 * against the database (reconcile.ts), so the same data polled twice writes nothing.
 *
 * Politeness: conditional requests (the last ETag / Last-Modified of each URL; a 304 re-uses
 * the last answer), a request budget per rolling minute, the provider's quota headers and
 * Retry-After (request-gate.ts), a short interval while a match is live or about to start and
 * a long one otherwise, exponential backoff with jitter for a resource whose request failed
 * (that resource alone: one competition the provider keeps failing must not slow the others'
 * live matches to its backoff), and a timeout and a body-size cap on every request (fetch-json.ts).
 *
 * Memory follows the provider's current answers: a match no answer has listed for
 * FORGET_AFTER_ROUNDS rounds is forgotten, and so is a resource not asked for as long.
 */
import { backoffMs, type Logger } from '@matchcast/runtime';
import { FeedError, ProviderError } from '../../errors';
import { LIVE_STATUSES } from '@matchcast/protocol';
import { keepValidEvents, validateOp, type SnapshotOp } from '../../feed';
import type { HttpSourceMetrics } from '../../metrics';
import { sleep } from '../pacer';
import type { FeedSource } from '../source';
import type { MappedMatch, ProviderAdapter } from './adapter';
import { fetchJson, type Validators } from './fetch-json';
import { RequestGate } from './request-gate';

export interface HttpSourceOptions {
  adapter: ProviderAdapter;
  /** Scheme, host and optional path prefix; the adapter's paths are appended. */
  baseUrl: string;
  competitions: readonly string[];
  /** The credential (from a Secret); sent in the adapter's header, never logged. */
  token?: string;
  authHeader?: string;
  liveIntervalMs: number;
  idleIntervalMs: number;
  requestsPerMinute: number;
  timeoutMs: number;
  maxBodyBytes: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Also fetch each live match's own resource (goals, cards, substitutions). */
  matchDetails: boolean;
  logger: Logger;
  metrics?: HttpSourceMetrics;
  now?: () => number;
}

/**
 * Rounds after which a match no answer listed (and a resource no round asked for) is forgotten.
 * Counting failed rounds too, so one list that always fails cannot keep the rest from it. A
 * forgotten match that comes back is handed on again, unconfirmed; the writer diffs it against
 * the database, so nothing already written (events by event_id) is written twice.
 */
const FORGET_AFTER_ROUNDS = 3;

/** Problems (bad matches and events) of one answer logged one by one; the rest are counted and summed up. */
const MAX_PROBLEMS_LOGGED = 5;
/** A problem's text in the log is cut here (it may quote the provider). */
const MAX_PROBLEM_CHARS = 300;

/** A validated snapshot, before the source decides whether it is confirmed. */
type Unconfirmed = Omit<SnapshotOp, 'confirmed'>;

/** A match as an answer gives it: the snapshot, and the provider's id for its detail resource. */
interface Listed {
  providerId: string;
  snapshot: Unconfirmed;
}

interface Resource {
  validators: Validators;
  matches: Listed[];
  /** The last round that asked for it. */
  round: number;
}

/** A resource whose last request failed: not asked for again before `retryAt`. */
interface Backoff {
  failures: number;
  retryAt: number;
  /** The last round that asked for it. */
  round: number;
}

export class HttpSource implements FeedSource {
  readonly name = 'http';
  private readonly queue: SnapshotOp[] = [];
  private readonly resources = new Map<string, Resource>();
  private readonly backoffs = new Map<string, Backoff>();
  /** Status and score of each match at the previous poll: the same again confirms a regression. */
  private readonly previous = new Map<string, string>();
  /** The last snapshot handed on for each match (JSON): an unchanged one is not handed on again. */
  private readonly emitted = new Map<string, string>();
  /** The last round that listed each match. */
  private readonly lastListed = new Map<string, number>();
  private rounds = 0;
  private readonly gate: RequestGate;
  private readonly headers: Record<string, string>;
  private readonly now: () => number;
  private nextPollAt = 0;
  /** The last request was refused for the rate limit: the rest of the round waits for the next. */
  private rateLimited = false;

  constructor(private readonly options: HttpSourceOptions) {
    this.now = options.now ?? Date.now;
    this.gate = new RequestGate(options.requestsPerMinute, this.now);
    this.headers = { 'user-agent': 'matchcast-crawler' };
    if (options.token) this.headers[(options.authHeader ?? options.adapter.authHeader).toLowerCase()] = options.token;
  }

  async next(signal: AbortSignal): Promise<SnapshotOp | undefined> {
    while (this.queue.length === 0) {
      if (signal.aborted) return undefined;
      await sleep(Math.max(0, this.nextPollAt - this.now()), signal);
      if (signal.aborted) return undefined;
      await this.round(signal);
    }
    return this.queue.shift();
  }

  async close(): Promise<void> {
    this.queue.length = 0;
  }

  /** One poll of every list (and live match), then the snapshots worth writing are queued. */
  private async round(signal: AbortSignal): Promise<void> {
    const { adapter, competitions, matchDetails } = this.options;
    const matches = new Map<string, Listed>();
    this.rounds++;
    let answered = false;
    for (const path of adapter.listPaths(competitions)) {
      const result = await this.poll(path, (body) => adapter.mapList(body), signal);
      if (result === 'aborted') return;
      if (Array.isArray(result)) {
        answered = true;
        for (const listed of result) matches.set(listed.snapshot.match_id, listed);
      }
      if (this.rateLimited) break;
    }
    if (matchDetails && adapter.detailPath && adapter.mapDetail && !this.rateLimited) {
      for (const [matchId, { providerId, snapshot }] of matches) {
        if (!LIVE_STATUSES.has(snapshot.status) && !this.wasLive(matchId)) continue;
        const result = await this.poll(adapter.detailPath(providerId), (body) => [adapter.mapDetail!(body)], signal);
        if (result === 'aborted') return;
        if (this.rateLimited) break;
        const detail = Array.isArray(result) ? result[0] : undefined;
        if (detail && detail.snapshot.match_id !== matchId) this.refuseDetail(matchId, detail.snapshot.match_id);
        else if (detail) matches.set(matchId, detail);
      }
    }
    const snapshots = [...matches.values()].map((listed) => listed.snapshot);
    this.queueChanges(snapshots);
    for (const matchId of matches.keys()) this.lastListed.set(matchId, this.rounds);
    this.forgetStale();
    const interval = this.anyLive(snapshots) ? this.options.liveIntervalMs : this.options.idleIntervalMs;
    // Nothing answered: the next round when the first resource's backoff is up; otherwise the
    // usual interval, or sooner if a failed resource is due before it.
    const asked = [...this.backoffs.values()].filter((b) => b.round === this.rounds);
    const untilRetry = Math.min(...asked.map((b) => b.retryAt - this.now()));
    const delay = answered ? Math.min(interval, untilRetry) : Number.isFinite(untilRetry) ? untilRetry : this.options.backoffBaseMs;
    this.nextPollAt = this.now() + Math.max(0, delay);
  }

  /** GETs one resource through the gate; maps and validates a new answer, re-uses the last on 304. */
  private async poll(path: string, map: (body: unknown) => MappedMatch[], signal: AbortSignal): Promise<Listed[] | 'failed' | 'backing_off' | 'aborted'> {
    const { logger, metrics } = this.options;
    const url = this.options.baseUrl.replace(/\/+$/, '') + path;
    this.rateLimited = false;
    const backoff = this.backoffs.get(url);
    if (backoff) {
      backoff.round = this.rounds;
      if (backoff.retryAt > this.now()) return 'backing_off';
    }
    const waited = await this.gate.acquire(signal);
    if (waited.reason) {
      metrics?.rateLimitWaits.inc({ reason: waited.reason });
      metrics?.rateLimitWaitSeconds.inc({ reason: waited.reason }, waited.waitedMs / 1000);
      logger.info({ path, reason: waited.reason, waited_ms: waited.waitedMs }, 'waited for the provider rate limit');
    }
    const cached = this.resources.get(url);
    if (cached) cached.round = this.rounds;
    try {
      const answer = await fetchJson(url, {
        headers: this.headers,
        validators: cached?.validators ?? {},
        timeoutMs: this.options.timeoutMs,
        maxBodyBytes: this.options.maxBodyBytes,
        signal,
      });
      if (answer === undefined) return 'aborted';
      this.gate.noteQuota(this.options.adapter.quota(answer.headers));
      this.backoffs.delete(url);
      if (answer.kind === 'not_modified') {
        metrics?.polls.inc({ result: 'not_modified' });
        if (cached) return cached.matches;
        throw new ProviderError('PROVIDER_INVALID', `GET ${url} answered 304 to a request without validators`, { status: 304 });
      }
      metrics?.polls.inc({ result: 'modified' });
      const matches = this.validate(path, map(answer.body));
      this.resources.set(url, { validators: answer.validators, matches, round: this.rounds });
      return matches;
    } catch (error) {
      if (!(error instanceof ProviderError)) throw error;
      metrics?.polls.inc({ result: 'error' });
      metrics?.providerErrors.inc({ code: error.code });
      const { status, retryAfterMs } = error.details;
      const failures = (backoff?.failures ?? 0) + 1;
      const delay = backoffMs(failures - 1, this.options.backoffBaseMs, this.options.backoffMaxMs);
      this.backoffs.set(url, { failures, retryAt: this.now() + delay, round: this.rounds });
      if (status === 429 || retryAfterMs !== undefined) {
        this.rateLimited = true;
        this.gate.noteRetryAfter(retryAfterMs ?? delay);
      }
      logger.warn({ path, code: error.code, status, retry_after_ms: retryAfterMs, err: error.message }, 'provider request failed');
      return 'failed';
    }
  }

  /**
   * Each mapped match through the snapshot's validation; a bad one is counted and left out. So
   * is a bad event, alone: the rest of its match (the score above all) still counts. Of one
   * answer's problems the first MAX_PROBLEMS_LOGGED are logged, cut to MAX_PROBLEM_CHARS, and the
   * rest summed up in one line: an answer of thousands of bad matches was a line each, at every
   * poll, and a problem quotes the provider (an unknown key, a value), megabytes of it if it likes.
   */
  private validate(path: string, mapped: MappedMatch[]): Listed[] {
    const { logger, metrics } = this.options;
    const valid: Listed[] = [];
    let problems = 0;
    const report = (providerMatchId: string | undefined, problem: string, message: string) => {
      metrics?.providerErrors.inc({ code: 'PROVIDER_INVALID' });
      if (++problems > MAX_PROBLEMS_LOGGED) return;
      const text = problem.length > MAX_PROBLEM_CHARS ? `${problem.slice(0, MAX_PROBLEM_CHARS)}…` : problem;
      logger.warn({ path, code: 'PROVIDER_INVALID', provider_match_id: providerMatchId, problem: text }, message);
    };
    for (const match of mapped) {
      let problem = match.ok ? undefined : match.problem;
      if (match.ok) {
        const dropped = [...(match.droppedEvents ?? [])];
        const candidate = match.snapshot.events === undefined ? match.snapshot : { ...match.snapshot, events: keepValidEvents(match.snapshot.events, dropped) };
        for (const eventProblem of dropped) report(match.providerId, eventProblem, 'provider event dropped');
        try {
          const { confirmed: _unset, ...snapshot } = validateOp({ op: 'snapshot', ...candidate, confirmed: false }) as SnapshotOp;
          valid.push({ providerId: match.providerId, snapshot });
        } catch (error) {
          if (!(error instanceof FeedError)) throw error;
          problem = error.problem;
        }
      }
      if (problem !== undefined) report(match.providerId, problem, 'provider match rejected');
    }
    if (problems > MAX_PROBLEMS_LOGGED) {
      logger.warn({ path, code: 'PROVIDER_INVALID', problems, logged: MAX_PROBLEMS_LOGGED }, 'provider answer had more problems than logged; all counted');
    }
    return valid;
  }

  /**
   * A match's own resource answered about another match (a mixed-up cache, a hostile provider):
   * taken, it would have replaced the match asked for and written over the other one, which
   * may not even be in the competitions followed. The listed snapshot stays.
   */
  private refuseDetail(asked: string, answered: string): void {
    this.options.metrics?.providerErrors.inc({ code: 'PROVIDER_INVALID' });
    this.options.logger.warn({ code: 'PROVIDER_INVALID', match_id: asked, answered_match_id: answered }, 'provider detail is about another match; ignored');
  }

  /** Queues each snapshot that differs from the last one queued for its match. */
  private queueChanges(snapshots: Iterable<Unconfirmed>): void {
    for (const snapshot of snapshots) {
      const key = `${snapshot.status} ${snapshot.score.home}-${snapshot.score.away}`;
      const op: SnapshotOp = { ...snapshot, confirmed: this.previous.get(snapshot.match_id) === key };
      this.previous.set(snapshot.match_id, key);
      const text = JSON.stringify(op);
      if (this.emitted.get(op.match_id) === text) continue;
      this.emitted.set(op.match_id, text);
      this.queue.push(op);
    }
  }

  /** Forgets the matches not listed, and the resources not asked for, in the last FORGET_AFTER_ROUNDS rounds. */
  private forgetStale(): void {
    const stale = (round: number | undefined) => round === undefined || this.rounds - round >= FORGET_AFTER_ROUNDS;
    // `lastListed` last: the others are judged by it.
    for (const byMatch of [this.previous, this.emitted, this.lastListed]) {
      for (const matchId of byMatch.keys()) if (stale(this.lastListed.get(matchId))) byMatch.delete(matchId);
    }
    for (const [url, resource] of this.resources) if (stale(resource.round)) this.resources.delete(url);
    for (const [url, backoff] of this.backoffs) if (stale(backoff.round)) this.backoffs.delete(url);
  }

  private wasLive(matchId: string): boolean {
    const status = this.previous.get(matchId)?.split(' ')[0];
    return status !== undefined && LIVE_STATUSES.has(status);
  }

  /** Live, or due to start before the next slow poll (or late to start): poll fast. */
  private anyLive(snapshots: Iterable<Unconfirmed>): boolean {
    const now = this.now();
    for (const s of snapshots) {
      if (LIVE_STATUSES.has(s.status)) return true;
      const kickoff = Date.parse(s.kickoff_at);
      if (s.status === 'scheduled' && kickoff <= now + this.options.idleIntervalMs && kickoff >= now - 3 * 3_600_000) return true;
    }
    return false;
  }
}
