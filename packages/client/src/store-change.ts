import type { DeliveredMessage } from './wire.js';

/** What a state store (notifications, league table, announcements) tells its listeners after each change. */
export interface StoreChange {
  /** `snapshot`: (re)loaded from the API; `event`: a stream event applied (`event` is it). */
  cause: 'snapshot' | 'event';
  event?: DeliveredMessage;
}
