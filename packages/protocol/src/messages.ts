/** Wire types shared by the database triggers, the listener, the gateway and clients. */

export type MatchStatus = 'scheduled' | 'live' | 'half_time' | 'finished' | 'postponed' | 'cancelled';
export const LIVE_STATUSES: ReadonlySet<string> = new Set<MatchStatus>(['live', 'half_time']);

/** `schedule_update` (kick-off moved, postponed, cancelled, deleted) accompanies the match_status / match_update of the same write. */
export type MatchEventType = 'match_update' | 'match_event' | 'match_status' | 'schedule_update';
/**
 * Events on a league's own stream `league:<id>`: the recomputed table after a result changed, and
 * `league_access` (LeagueAccessData) when its privacy or membership changed (gateways drop their
 * cached decisions for the league and re-check open subscriptions).
 */
export type LeagueEventType = 'league_table' | 'league_access';
export interface LeagueAccessData {
  league_id: string;
  change: 'member_added' | 'member_removed' | 'privacy';
  /** Whether the league is private after the change. */
  private: boolean;
  /** The member added or removed (null for a privacy change). */
  user_id: string | null;
}
/** Events on a user's stream: a new notification, and the state changes every tab and device mirrors. */
export type UserEventType = 'notification' | 'notification_read' | 'notifications_read_all' | 'notification_deleted';
/** The one event of a purchase's stream: the purchase as it now is, and the status it left (null when new). */
export type PurchaseEventType = 'purchase';
export type PurchaseStatus = 'pending' | 'paid' | 'issued' | 'cancelled' | 'refunded';
/**
 * Announcements, on their target's stream (all, league:<id>, team:<id> or match:<id>): published,
 * edited while published, expired (or withdrawn). `data` is the announcement (AnnouncementData).
 */
export type AnnouncementEventType = 'announcement' | 'announcement_updated' | 'announcement_expired';
export type AnnouncementKind = 'general' | 'schedule_change' | 'result_update' | 'weather_alert' | 'emergency';
export type AnnouncementPriority = 'low' | 'normal' | 'high' | 'urgent';
export type AnnouncementTarget = 'everyone' | 'league' | 'team' | 'match';
export interface AnnouncementData {
  id: string;
  title: string;
  message: string;
  type: AnnouncementKind;
  priority: AnnouncementPriority;
  target: AnnouncementTarget;
  target_id: string | null;
  starts_at: string | null;
  expires_at: string | null;
  created_by: string;
  state: 'scheduled' | 'published' | 'expired';
  created_at: string;
  updated_at: string;
  /** A match announcement's routing refs (the match's teams and league). */
  home_team?: { id: string; name: string };
  away_team?: { id: string; name: string };
  league?: { id: string; name: string };
}
/** The gateways' delivery canary on `canary:<gateway id>` (data: `{ token }`); never delivered to clients. */
export type CanaryEventType = 'canary';
/** The event types a client can receive: every type but the canary's. */
export type ClientEventType = MatchEventType | LeagueEventType | UserEventType | PurchaseEventType | AnnouncementEventType;
export type EventType = ClientEventType | CanaryEventType;

export interface Ref {
  id: string;
  name: string;
}

/** The match state every match message carries in `data` (the fields existing clients read). */
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

/** One committed outbox row, as it travels through NOTIFY, Redis and the gateway. */
export interface OutboxEvent {
  id: string;
  stream: string;
  seq: number;
  type: EventType;
  match_id: string | null;
  data: Record<string, unknown>;
  timestamp: string;
}

/** NOTIFY payloads over 8000 bytes are replaced by a reference; receivers read the row. */
export interface OutboxRef {
  ref: true;
  id: string;
  stream: string;
  seq: number;
}

/** What a client receives for each event: the established shape plus channel, stream, seq, id. */
export interface DeliveredMessage {
  type: ClientEventType;
  match_id: string | null;
  data: Record<string, unknown>;
  timestamp: string;
  channel: string;
  stream: string;
  seq: number;
  id: string;
}

/** The listener's liveness beacon, published through Redis every few hundred ms. */
export interface Heartbeat {
  listener_id: string;
  sent_at: number;
  /** Count of notifications published by this leader since it took the lock. */
  published: number;
  /** Count of notifications this leader could not publish (Redis errors) since it took the lock:
   * when it grows, gateways catch up from the outbox. */
  dropped: number;
}

/** Postgres NOTIFY channels: `<table>_change` per notifying table (names operators already use); standing_change carries league_table, league_access_change league_access, canary_change the gateways' delivery canary. */
export const NOTIFY_CHANNELS = [
  'matchdata_change',
  'match_change',
  'scoreboard_change',
  'playclock_change',
  'gameclock_change',
  'football_event_change',
  'player_match_change',
  'notification_change',
  'standing_change',
  'purchase_change',
  'announcement_change',
  'league_access_change',
  'canary_change',
] as const;

/** Redis channels (the events channel keeps its established name). */
export const REDIS_EVENTS_CHANNEL = 'pg_notify:events';
export const REDIS_HEARTBEAT_CHANNEL = 'pg_notify:heartbeat';

/** The envelope the listener publishes on REDIS_EVENTS_CHANNEL: the NOTIFY channel and its payload. */
export interface ForwardedNotification {
  channel: string;
  payload: string;
}
