/**
 * The wire protocol as a client sees it (docs/protocol.md). These are the definitions of
 * `@matchcast/protocol`, restated so that the client ships with no dependency;
 * test/unit/wire.test.ts (values) and test/unit/wire-types.test.ts (types) keep the two in step.
 */

/** Stable error codes the server sends (`error` messages, HTTP refusal bodies). */
export const ERROR_CODES = [
  'BAD_REQUEST',
  'NOT_FOUND',
  'REQUEST_TIMEOUT',
  'HEADERS_TOO_LARGE',
  'BAD_JSON',
  'BAD_MESSAGE',
  'UNKNOWN_ACTION',
  'INVALID_CHANNEL',
  'UNKNOWN_CHANNEL',
  'TOO_MANY_CHANNELS',
  'BAD_RESUME',
  'BAD_POSITION_TOKEN',
  'RESUME_TOO_OLD',
  'PAYLOAD_TOO_LARGE',
  'BINARY_NOT_SUPPORTED',
  'RATE_LIMITED',
  'UNAUTHORIZED',
  'TOKEN_EXPIRED',
  'ORIGIN_NOT_ALLOWED',
  'TOO_MANY_CONNECTIONS',
  'FORBIDDEN_CHANNEL',
  'SLOW_CONSUMER',
  'SERVER_FULL',
  'SERVER_DRAINING',
  'FORBIDDEN',
  'VALIDATION_FAILED',
  'UNSUPPORTED_MEDIA_TYPE',
  'INVALID_TRANSITION',
  'IDEMPOTENCY_KEY_REUSED',
  'TOO_MANY_PENDING_PURCHASES',
  'MATCH_NOT_ON_SALE',
  'ANNOUNCEMENT_EXPIRED',
  'FOLLOW_LIMIT_REACHED',
  'UNAVAILABLE',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** WebSocket close codes the client acts on. */
export const CloseCodes = {
  NORMAL: 1000,
  ABNORMAL: 1006,
  SERVER_DRAINING: 1012,
  TRY_AGAIN_LATER: 1013,
  TOKEN_EXPIRED: 4001,
  FORBIDDEN: 4003,
  SLOW_CONSUMER: 4008,
} as const;

export type MatchStatus = 'scheduled' | 'live' | 'half_time' | 'finished' | 'postponed' | 'cancelled';

export type EventType =
  | 'match_update'
  | 'match_event'
  | 'match_status'
  | 'schedule_update'
  | 'league_table'
  | 'league_access'
  | 'notification'
  | 'notification_read'
  | 'notifications_read_all'
  | 'notification_deleted'
  | 'purchase'
  | 'announcement'
  | 'announcement_updated'
  | 'announcement_expired';

export interface Ref {
  id: string;
  name: string;
}

/** The match state every match message carries in `data`. */
export interface MatchSnapshot {
  match_id: string;
  status: MatchStatus;
  minute: number;
  score: { home: number; away: number };
  home_team: Ref;
  away_team: Ref;
  league: Ref;
  kickoff_at: string;
  [extra: string]: unknown;
}

/** One event as delivered: the established shape plus channel, stream, seq and id. */
export interface DeliveredMessage {
  type: EventType;
  match_id: string | null;
  data: Record<string, unknown>;
  timestamp: string;
  channel: string;
  stream: string;
  seq: number;
  id: string;
}

/** Server → client control messages. */
export type ControlMessage =
  /** `keep_alive_ms` (SSE): the stream says something — an event or a `ping` — at least this often. */
  | { type: 'connection_status'; status: 'connected'; connection_id: string; server_time: string; keep_alive_ms?: number }
  | { type: 'subscribed'; channels: string[] }
  | { type: 'resumed'; channels: string[] }
  | { type: 'unsubscribed'; channels: string[] }
  | { type: 'pong'; timestamp: string }
  | { type: 'refreshed'; expires_at: string | null }
  /** `channels`: the subscribe message's, when the error refuses that message whole (answering it instead of `subscribed`). */
  | { type: 'error'; code: ErrorCode; message: string; channel?: string; stream?: string; channels?: string[] };

export type ServerMessage = DeliveredMessage | ControlMessage;

/** Client → server messages, as JSON on the wire. */
export type ClientMessage =
  | { action: 'subscribe'; channels: string[]; resume?: Record<string, number>; since?: string }
  | { action: 'unsubscribe'; channels: string[] }
  | { action: 'ping' }
  | { action: 'refresh'; token: string };

/** `GET /api/matches`: current state with each stream's seq. */
export interface MatchesResponse {
  matches: { match: MatchSnapshot; stream: string; seq: number }[];
}

/** A persisted notification, as `GET /api/notifications` lists it and a `notification` event carries it. */
export interface Notification {
  id: string;
  user_id: string;
  title: string;
  message: string;
  type: string;
  match_id: string | null;
  team_id: string | null;
  league_id: string | null;
  data: Record<string, unknown>;
  priority: 'low' | 'normal' | 'high' | 'urgent';
  is_read: boolean;
  read_at: string | null;
  created_at: string;
  expires_at: string | null;
}

/**
 * `GET /api/notifications`: a page of the user's notifications, newest first. `stream_seq` is
 * the seq of the user's stream the page was read at (same snapshot), so live events continue
 * from exactly there.
 */
export interface NotificationsResponse {
  notifications: Notification[];
  total: number;
  unread_count: number;
  stream_seq?: number;
  [extra: string]: unknown;
}

/** The `data` of each event on a user's stream: every one carries the new unread count. */
export interface UserEventData {
  notification: Notification & { unread_count: number };
  notification_read: { id: string; read_at: string; unread_count: number };
  notifications_read_all: { marked_as_read: number; read_at: string; unread_count: number };
  notification_deleted: { id: string; unread_count: number };
}

/** One row of a league table (league_table's `rows`, GET /api/leagues/{id}/table). */
export interface StandingRow {
  position: number;
  team: Ref;
  played: number;
  won: number;
  drawn: number;
  lost: number;
  goals_for: number;
  goals_against: number;
  goal_difference: number;
  points: number;
}

/** `league_table` on the stream league:<id>: the whole table after a result changed. */
export interface LeagueTableData {
  league: Ref;
  rows: StandingRow[];
}

/**
 * `announcement` / `announcement_updated` / `announcement_expired` on the target's stream (all,
 * league:<id>, team:<id> or match:<id>): the announcement as it now is.
 */
export interface AnnouncementData {
  id: string;
  title: string;
  message: string;
  type: 'general' | 'schedule_change' | 'result_update' | 'weather_alert' | 'emergency';
  priority: 'low' | 'normal' | 'high' | 'urgent';
  target: 'everyone' | 'league' | 'team' | 'match';
  target_id: string | null;
  starts_at: string | null;
  expires_at: string | null;
  created_by: string;
  state: 'scheduled' | 'published' | 'expired';
  created_at: string;
  updated_at: string;
}

/** `schedule_update` on a match's stream: the snapshot plus what changed (new_* null when deleted). */
export interface ScheduleUpdateData extends MatchSnapshot {
  change: 'rescheduled' | 'postponed' | 'cancelled' | 'deleted';
  old_kickoff_at: string;
  new_kickoff_at: string | null;
  old_status: MatchStatus;
  new_status: MatchStatus | null;
}

/**
 * Channel names the server accepts: match|team|league|user|purchase:<id>, live:all, all, and the topic
 * channels of match, team, league and all (`league:<id>/results`; docs/protocol.md, Topics).
 */
export const CHANNEL_PATTERN =
  /^(?:live:all|(?:user|purchase):[A-Za-z0-9_.-]{1,64}|(?:all|(?:match|team|league):[A-Za-z0-9_.-]{1,64})(?:\/(?:results|schedule|announcements|live))?)$/;

/** Stream names (the keys of `resume`): all, and match|team|league|user|purchase:<id>. */
export const STREAM_PATTERN = /^(?:all|(?:match|team|league|user|purchase):[A-Za-z0-9_.-]{1,64})$/;

export function isEvent(message: ServerMessage): message is DeliveredMessage {
  return typeof (message as DeliveredMessage).stream === 'string' && typeof (message as DeliveredMessage).seq === 'number';
}
