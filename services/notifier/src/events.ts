/**
 * Which match outbox rows become notifications, and their words. Pure: the row in, the
 * notification (or nothing) out. The rows are what 002_outbox.sql's trigger writes: `data` is
 * the match snapshot, plus `event` (the football_event row) for match_event and `old_status`
 * for match_status.
 */
import type { MatchSnapshot, MatchStatus, Ref } from '@matchcast/protocol';

/** The outbox types worth reading at all (the query filters on them; the rest is decided here). */
export const NOTIFIABLE_OUTBOX_TYPES = ['match_event', 'match_status'] as const;

export const NOTIFICATION_KINDS = ['goal', 'red_card', 'kick_off', 'half_time', 'full_time', 'postponed', 'cancelled'] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];
export type Priority = 'low' | 'normal' | 'high' | 'urgent';

/** One notification for every follower of the match, its teams or its league. */
export interface MatchNotification {
  kind: NotificationKind;
  title: string;
  message: string;
  priority: Priority;
  matchId: string;
  /** The team it is about (the scoring or sent-off side); null for the whole match. */
  teamId: string | null;
  leagueId: string;
  homeTeamId: string;
  awayTeamId: string;
  data: Record<string, unknown>;
}

export interface OutboxRow {
  id: string;
  type: string;
  data: unknown;
}

const GOAL_TYPES: Record<string, string> = { goal: 'Goal!', penalty_goal: 'Penalty goal!', own_goal: 'Own goal!' };
const RED_CARD_TYPES = new Set(['red_card']);

/** Status changes that notify: the new status, and (when it matters) the one it must come from. */
const STATUS_KINDS: Record<string, { kind: NotificationKind; from?: MatchStatus }> = {
  live: { kind: 'kick_off', from: 'scheduled' },
  half_time: { kind: 'half_time' },
  finished: { kind: 'full_time' },
  postponed: { kind: 'postponed' },
  cancelled: { kind: 'cancelled' },
};

const PRIORITIES: Record<NotificationKind, Priority> = {
  goal: 'high',
  red_card: 'high',
  kick_off: 'normal',
  half_time: 'normal',
  full_time: 'normal',
  postponed: 'normal',
  cancelled: 'urgent',
};

// Names are clipped so that a title (≤ 200), message (≤ 2000) and data (≤ 4096 bytes) always
// fit notification's constraints: a row the database refuses would otherwise be skipped.
const NAME_MAX = 60;
const ID_MAX = 64;

interface FootballEvent {
  type: string;
  minute: number;
  team: 'home' | 'away';
  player?: string;
  assist?: string;
}

/** The notification for this outbox row, or undefined when it is not worth one. */
export function notificationFor(row: OutboxRow): MatchNotification | undefined {
  const snapshot = readSnapshot(row.data);
  if (!snapshot) return undefined;
  const data = row.data as Record<string, unknown>;
  if (row.type === 'match_event') {
    const event = readEvent(data.event);
    if (!event) return undefined;
    if (Object.hasOwn(GOAL_TYPES, event.type)) return goal(row.id, snapshot, event);
    if (RED_CARD_TYPES.has(event.type)) return redCard(row.id, snapshot, event);
    return undefined;
  }
  if (row.type === 'match_status') {
    const rule = STATUS_KINDS[snapshot.status];
    const from = typeof data.old_status === 'string' ? data.old_status : undefined;
    // A match inserted with a status (a new fixture) is not a change anyone follows.
    if (!rule || from === undefined || from === snapshot.status) return undefined;
    if (rule.from !== undefined && from !== rule.from) return undefined;
    return statusChange(row.id, snapshot, rule.kind);
  }
  return undefined;
}

function goal(outboxId: string, m: MatchSnapshot, event: FootballEvent): MatchNotification {
  const team = side(m, event.team);
  const who = event.player ? clip(event.player) : undefined;
  let message: string;
  if (event.type === 'own_goal') message = who ? `Own goal by ${who}, credited to ${team.name}.` : `Own goal, credited to ${team.name}.`;
  else if (event.type === 'penalty_goal') message = who ? `${who} scores a penalty for ${team.name}.` : `${team.name} score a penalty.`;
  else message = who ? `${who} scores for ${team.name}${event.assist ? `, assisted by ${clip(event.assist)}` : ''}.` : `${team.name} score.`;
  return build('goal', outboxId, m, {
    title: `${GOAL_TYPES[event.type]} ${scoreLine(m)} (${event.minute}')`,
    message,
    team,
    event,
  });
}

function redCard(outboxId: string, m: MatchSnapshot, event: FootballEvent): MatchNotification {
  const team = side(m, event.team);
  const who = event.player ? `${clip(event.player)} (${team.name})` : team.name;
  return build('red_card', outboxId, m, {
    title: `Red card: ${team.name} (${event.minute}')`,
    message: `${who} sent off. ${scoreLine(m)}.`,
    team,
    event,
  });
}

function statusChange(outboxId: string, m: MatchSnapshot, kind: NotificationKind): MatchNotification {
  const fixture = `${name(m.home_team)} v ${name(m.away_team)}`;
  const where = `${name(m.league)}, kick-off ${kickoff(m.kickoff_at)}`;
  const words: Record<string, { title: string; message: string }> = {
    kick_off: { title: `Kick-off: ${fixture}`, message: `${fixture} has kicked off (${name(m.league)}).` },
    half_time: { title: `Half time: ${scoreLine(m)}`, message: `Half time in ${fixture} (${name(m.league)}).` },
    full_time: { title: `Full time: ${scoreLine(m)}`, message: `${result(m)} (${name(m.league)}).` },
    postponed: { title: `Postponed: ${fixture}`, message: `${fixture} (${where}) has been postponed.` },
    cancelled: { title: `Cancelled: ${fixture}`, message: `${fixture} (${where}) has been cancelled.` },
  };
  return build(kind, outboxId, m, words[kind] as { title: string; message: string });
}

function build(
  kind: NotificationKind,
  outboxId: string,
  m: MatchSnapshot,
  parts: { title: string; message: string; team?: Ref; event?: FootballEvent },
): MatchNotification {
  const ref = (r: Ref) => ({ id: clip(r.id, ID_MAX), name: name(r) });
  const data: Record<string, unknown> = {
    outbox_id: outboxId,
    match_id: clip(m.match_id, ID_MAX),
    status: m.status,
    minute: parts.event?.minute ?? m.minute,
    score: { home: m.score.home, away: m.score.away },
    home_team: ref(m.home_team),
    away_team: ref(m.away_team),
    league: ref(m.league),
    kickoff_at: m.kickoff_at,
  };
  if (parts.event) {
    data.event = {
      type: parts.event.type,
      team: parts.event.team,
      ...(parts.event.player ? { player: clip(parts.event.player) } : {}),
      ...(parts.event.assist ? { assist: clip(parts.event.assist) } : {}),
    };
  }
  return {
    kind,
    title: clip(parts.title, 200),
    message: clip(parts.message, 2000),
    priority: PRIORITIES[kind],
    matchId: m.match_id,
    teamId: parts.team?.id ?? null,
    leagueId: m.league.id,
    homeTeamId: m.home_team.id,
    awayTeamId: m.away_team.id,
    data,
  };
}

/** "Arsenal 2–1 Chelsea" */
function scoreLine(m: MatchSnapshot): string {
  return `${name(m.home_team)} ${m.score.home}–${m.score.away} ${name(m.away_team)}`;
}

/** "Arsenal beat Chelsea 2–1." / "Chelsea win 2–1 at Arsenal." / "Arsenal and Chelsea draw 1–1." */
function result(m: MatchSnapshot): string {
  const { home, away } = m.score;
  if (home > away) return `${name(m.home_team)} beat ${name(m.away_team)} ${home}–${away}`;
  if (away > home) return `${name(m.away_team)} win ${away}–${home} at ${name(m.home_team)}`;
  return `${name(m.home_team)} and ${name(m.away_team)} draw ${home}–${away}`;
}

/** "30 Nov 2026 15:00 UTC" */
function kickoff(iso: string): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return 'unknown';
  const month = at.toLocaleString('en-GB', { month: 'short', timeZone: 'UTC' });
  const time = at.toISOString().slice(11, 16);
  return `${at.getUTCDate()} ${month} ${at.getUTCFullYear()} ${time} UTC`;
}

function side(m: MatchSnapshot, team: 'home' | 'away'): Ref {
  return team === 'home' ? m.home_team : m.away_team;
}

function name(ref: Ref): string {
  return clip(ref.name);
}

function clip(text: string, max = NAME_MAX): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isRef(value: unknown): value is Ref {
  return isRecord(value) && typeof value.id === 'string' && typeof value.name === 'string';
}

/** The snapshot's fields the words need, checked: a malformed row is skipped, never a crash. */
function readSnapshot(data: unknown): MatchSnapshot | undefined {
  if (!isRecord(data)) return undefined;
  const score = data.score;
  if (
    typeof data.match_id !== 'string' ||
    typeof data.status !== 'string' ||
    !isRef(data.home_team) ||
    !isRef(data.away_team) ||
    !isRef(data.league) ||
    !isRecord(score) ||
    typeof score.home !== 'number' ||
    typeof score.away !== 'number'
  ) {
    return undefined;
  }
  return {
    ...data,
    minute: typeof data.minute === 'number' ? data.minute : 0,
    kickoff_at: typeof data.kickoff_at === 'string' ? data.kickoff_at : '',
  } as MatchSnapshot;
}

function readEvent(value: unknown): FootballEvent | undefined {
  if (!isRecord(value) || typeof value.type !== 'string' || typeof value.minute !== 'number') return undefined;
  if (value.team !== 'home' && value.team !== 'away') return undefined;
  return {
    type: value.type,
    minute: value.minute,
    team: value.team,
    player: typeof value.player === 'string' && value.player !== '' ? value.player : undefined,
    assist: typeof value.assist === 'string' && value.assist !== '' ? value.assist : undefined,
  };
}
