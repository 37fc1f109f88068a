/**
 * football-data.org API v4: `GET /v4/competitions/{code}/matches` (every match of a
 * competition's season) and `GET /v4/matches/{id}` (one match; goals, bookings and
 * substitutions when the plan includes them). Credential header: X-Auth-Token. Quota headers:
 * X-Requests-Available-Minute and X-RequestCounter-Reset (seconds).
 *
 * Ids are namespaced so they never meet another provider's: match `fd-<id>`, team `fd-t<id>`,
 * league `fd-<competition code>`. The provider has no ids for goals and cards, so an event's
 * id is made from what identifies it (kind, minute, injury time, team, player; a counter for
 * exact repeats; hashed when longer than an id may be): the same goal polled again has the same
 * id and is written once.
 */
import { createHash } from 'node:crypto';
import { STATUSES, TIMESTAMP_RULE } from '../../../feed';
import { parseIsoTime, type MatchStatus } from '@matchcast/protocol';
import type { SnapshotEvent } from '../../../feed';
import { quotaFromHeaders } from '../request-gate';
import type { MappedMatch, ProviderAdapter, SnapshotCandidate } from '../adapter';

const STATUS_MAP: Record<string, MatchStatus> = {
  SCHEDULED: 'scheduled',
  TIMED: 'scheduled',
  IN_PLAY: 'live',
  LIVE: 'live',
  PAUSED: 'half_time',
  FINISHED: 'finished',
  AWARDED: 'finished',
  POSTPONED: 'postponed',
  SUSPENDED: 'postponed',
  CANCELLED: 'cancelled',
};

const GOAL_TYPES: Record<string, SnapshotEvent['kind']> = { REGULAR: 'goal', PENALTY: 'penalty_goal', OWN: 'own_goal' };
const CARD_TYPES: Record<string, SnapshotEvent['kind']> = { YELLOW: 'yellow_card', YELLOW_RED: 'red_card', RED: 'red_card' };

/** A problem with one field of the provider's JSON, named by its path. */
class Problem extends Error {}

type Json = Record<string, unknown>;

/**
 * The table's entry for a provider's code; undefined for anything else. Never String(value):
 * an array nested a few thousand deep (10 KB of JSON) overflows the stack in its toString, and
 * that RangeError stopped the crawler. Own keys only: "constructor" is no card.
 */
function entry<T>(table: Record<string, T>, code: unknown): T | undefined {
  return typeof code === 'string' && Object.hasOwn(table, code) ? table[code] : undefined;
}

/**
 * A provider's value as a problem quotes it: a string cut short, anything else by its kind. Never
 * the value whole: it can be megabytes (a log line each poll), or too deeply nested to print.
 */
function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

function object(value: unknown, path: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Problem(`${path} must be an object`);
  return value as Json;
}

function integer(value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new Problem(`${path} must be an integer from ${min} to ${max}`);
  }
  return value;
}

function text(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new Problem(`${path} must be a non-empty string`);
  return value;
}

function optionalArray(value: unknown, path: string): unknown[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw new Problem(`${path} must be an array`);
  return value;
}

/** Score halves: null before the match starts, which is 0. */
function goals(value: unknown, path: string): number {
  return value === null || value === undefined ? 0 : integer(value, path, 0, 99);
}

function team(value: unknown, path: string): { id: string; name: string; short_name?: string; providerId: number } {
  const t = object(value, path);
  const providerId = integer(t.id, `${path}.id`, 1, Number.MAX_SAFE_INTEGER);
  const tla = typeof t.tla === 'string' && t.tla.length > 0 && t.tla.length <= 10 ? t.tla : undefined;
  return { id: `fd-t${providerId}`, name: text(t.name, `${path}.name`), ...(tla ? { short_name: tla } : {}), providerId };
}

function person(value: unknown, path: string): { id: string; name: string } {
  const p = object(value, path);
  return { id: p.id === null || p.id === undefined ? 'x' : String(integer(p.id, `${path}.id`, 0, Number.MAX_SAFE_INTEGER)), name: text(p.name, `${path}.name`) };
}

function mapMatch(value: unknown, competitionFallback?: Json): SnapshotCandidate & { providerId: string; droppedEvents: string[] } {
  const m = object(value, 'match');
  const providerId = String(integer(m.id, 'id', 1, Number.MAX_SAFE_INTEGER));
  const competition = m.competition === undefined && competitionFallback ? competitionFallback : object(m.competition, 'competition');
  const code = text(competition.code, 'competition.code');
  const status = entry(STATUS_MAP, text(m.status, 'status'));
  if (status === undefined || !STATUSES.includes(status)) throw new Problem(`status ${shown(m.status)} is not a known status`);
  const utcDate = text(m.utcDate, 'utcDate');
  if (parseIsoTime(utcDate) === undefined) throw new Problem(`utcDate ${TIMESTAMP_RULE}`);
  const home = team(m.homeTeam, 'homeTeam');
  const away = team(m.awayTeam, 'awayTeam');
  const score = object(m.score, 'score');
  const fullTime = object(score.fullTime, 'score.fullTime');
  const result = { home: goals(fullTime.home, 'score.fullTime.home'), away: goals(fullTime.away, 'score.fullTime.away') };
  if (score.halfTime !== undefined && score.halfTime !== null) {
    const halfTime = object(score.halfTime, 'score.halfTime');
    const half = { home: goals(halfTime.home, 'score.halfTime.home'), away: goals(halfTime.away, 'score.halfTime.away') };
    if (half.home > result.home || half.away > result.away) throw new Problem('score.halfTime is more than score.fullTime');
  }
  const area = m.area === undefined || m.area === null ? undefined : object(m.area, 'area');
  const country = typeof area?.name === 'string' && area.name.length > 0 ? area.name : undefined;
  const droppedEvents: string[] = [];
  const events = mapEvents(m, home.providerId, away.providerId, droppedEvents);
  // Only for the lag metric: an unusable one is left out, not a reason to refuse the match.
  const lastUpdated = typeof m.lastUpdated === 'string' && parseIsoTime(m.lastUpdated) !== undefined ? m.lastUpdated : undefined;
  return {
    providerId,
    droppedEvents,
    match_id: `fd-${providerId}`,
    kickoff_at: utcDate,
    league: { id: `fd-${code}`, name: text(competition.name, 'competition.name'), ...(country ? { country } : {}) },
    home: { id: home.id, name: home.name, ...(home.short_name ? { short_name: home.short_name } : {}) },
    away: { id: away.id, name: away.name, ...(away.short_name ? { short_name: away.short_name } : {}) },
    status,
    score: result,
    ...(typeof m.minute === 'number' ? { minute: integer(m.minute, 'minute', 0, 200) } : {}),
    ...(events ? { events } : {}),
    ...(lastUpdated ? { provider_updated_at: lastUpdated } : {}),
  };
}

/**
 * Goals, bookings and substitutions, when the answer has them (undefined when it has none of the
 * three). An event that cannot be mapped is left out, its problem added to `dropped`: one odd
 * booking must not hold back the match.
 */
function mapEvents(m: Json, homeId: number, awayId: number, dropped: string[]): SnapshotEvent[] | undefined {
  const goalList = optionalArray(m.goals, 'goals');
  const bookingList = optionalArray(m.bookings, 'bookings');
  const substitutionList = optionalArray(m.substitutions, 'substitutions');
  if (!goalList && !bookingList && !substitutionList) return undefined;
  const events: SnapshotEvent[] = [];
  const seen = new Map<string, number>();
  const add = (path: string, raw: unknown, kindOf: (e: Json) => SnapshotEvent['kind'], people: (e: Json) => Pick<SnapshotEvent, 'player' | 'assist' | 'player_in'> & { key: string }) => {
    try {
      const e = object(raw, path);
      const minute = integer(e.minute, `${path}.minute`, 0, 200);
      const injury = e.injuryTime === null || e.injuryTime === undefined ? 0 : integer(e.injuryTime, `${path}.injuryTime`, 0, 60);
      const teamId = integer(object(e.team, `${path}.team`).id, `${path}.team.id`, 1, Number.MAX_SAFE_INTEGER);
      if (teamId !== homeId && teamId !== awayId) throw new Problem(`${path}.team.id ${teamId} plays in neither team`);
      const kind = kindOf(e);
      const who = people(e);
      const base = `${kind}-${minute}-${injury}-${teamId}-${who.key}`;
      const repeat = seen.get(base) ?? 0;
      seen.set(base, repeat + 1);
      const { key: _key, ...names } = who;
      events.push({ event_id: eventId(`fd-${base}-${repeat}`), kind, minute, team: teamId === homeId ? 'home' : 'away', ...names });
    } catch (error) {
      if (!(error instanceof Problem)) throw error;
      dropped.push(error.message);
    }
  };
  goalList?.forEach((g, i) =>
    add(
      `goals[${i}]`,
      g,
      (e) => entry(GOAL_TYPES, e.type ?? 'REGULAR') ?? fail(`goals[${i}].type ${shown(e.type)} is not a known goal type`),
      (e) => {
        const scorer = person(e.scorer, `goals[${i}].scorer`);
        const assist = e.assist === null || e.assist === undefined ? undefined : person(e.assist, `goals[${i}].assist`);
        return { key: scorer.id, player: scorer.name, ...(assist ? { assist: assist.name } : {}) };
      },
    ),
  );
  bookingList?.forEach((b, i) =>
    add(
      `bookings[${i}]`,
      b,
      (e) => entry(CARD_TYPES, e.card) ?? fail(`bookings[${i}].card ${shown(e.card)} is not a known card`),
      (e) => {
        const player = person(e.player, `bookings[${i}].player`);
        return { key: player.id, player: player.name };
      },
    ),
  );
  substitutionList?.forEach((s, i) =>
    add(
      `substitutions[${i}]`,
      s,
      () => 'substitution',
      (e) => {
        const out = person(e.playerOut, `substitutions[${i}].playerOut`);
        const into = person(e.playerIn, `substitutions[${i}].playerIn`);
        return { key: `${out.id}.${into.id}`, player: out.name, player_in: into.name };
      },
    ),
  );
  return events.sort((a, b) => a.minute - b.minute);
}

/**
 * An event id within the 64 characters ids may have. Long provider ids make longer ones, which
 * become `fd-` and the SHA-256 of the whole id (base64url, 43 characters): as stable across polls,
 * and, unlike a cut, as distinct as the ids they stand for.
 */
function eventId(full: string): string {
  return full.length <= 64 ? full : `fd-${createHash('sha256').update(full).digest('base64url')}`;
}

function fail(problem: string): never {
  throw new Problem(problem);
}

function mapped(value: unknown, competition?: Json): MappedMatch {
  const providerId = typeof (value as Json | null)?.id === 'number' ? String((value as Json).id) : undefined;
  try {
    const { providerId: id, droppedEvents, ...snapshot } = mapMatch(value, competition);
    return { ok: true, providerId: id, snapshot, droppedEvents };
  } catch (error) {
    if (error instanceof Problem) return { ok: false, providerId, problem: error.message };
    throw error;
  }
}

export const footballData: ProviderAdapter = {
  name: 'football-data',
  authHeader: 'X-Auth-Token',
  listPaths: (competitions) => competitions.map((code) => `/v4/competitions/${encodeURIComponent(code)}/matches`),
  detailPath: (providerId) => `/v4/matches/${encodeURIComponent(providerId)}`,
  mapList(body) {
    const answer = body as Json | null;
    if (typeof answer !== 'object' || answer === null || !Array.isArray(answer.matches)) return [{ ok: false, problem: 'matches must be an array' }];
    // The list names its competition once at the top as well; a match may leave it out.
    const competition = answer.competition && typeof answer.competition === 'object' ? (answer.competition as Json) : undefined;
    return answer.matches.map((m) => mapped(m, competition));
  },
  mapDetail: (body) => mapped(body),
  quota: (headers) => quotaFromHeaders(headers, 'x-requests-available-minute', 'x-requestcounter-reset'),
};
