export { MatchcastClient } from './client.js';
export {
  createNotifications,
  MatchcastApiError,
  type NotificationStore,
  type NotificationsChange,
  type NotificationsOptions,
} from './notifications.js';
export type { StoreChange } from './store-change.js';
export { createLeagueTable, type LeagueTable, type LeagueTableChange, type LeagueTableOptions } from './league-table.js';
export { createAnnouncements, type Announcements, type AnnouncementsChange, type AnnouncementsOptions, type AnnouncementTarget } from './announcements.js';
export { createScoreboard, httpSnapshot, type Scoreboard, type ScoreboardChange, type ScoreboardOptions } from './scoreboard.js';
export { backoffDelay, closeAction, reconnectDelay, DEFAULT_BACKOFF, type BackoffOptions, type CloseAction } from './backoff.js';
export { tokenExpiryMs, tokenSubject, refreshDelay } from './token.js';
export { sseUrlFor, type EventSourceConstructor, type EventSourceLike } from './transport-sse.js';
export type { Transport } from './transport.js';
export type {
  ClientDiagnostics,
  ClientEvents,
  ConnectionState,
  EventHandler,
  LocalErrorCode,
  MatchcastClientOptions,
  MatchcastError,
  ResetHandler,
  StreamPositions,
  WebSocketConstructor,
  WebSocketLike,
} from './types.js';
export {
  CHANNEL_PATTERN,
  CloseCodes,
  ERROR_CODES,
  isEvent,
  type ClientMessage,
  type ControlMessage,
  type AnnouncementData,
  type DeliveredMessage,
  type ErrorCode,
  type EventType,
  type LeagueTableData,
  type MatchSnapshot,
  type MatchStatus,
  type MatchesResponse,
  type Notification,
  type NotificationsResponse,
  type UserEventData,
  type Ref,
  type ScheduleUpdateData,
  type ServerMessage,
  type StandingRow,
} from './wire.js';
