import type { Topic } from './channels';
import type { EventType, OutboxEvent } from './messages';
import { routeEvent } from './routing';

/** The topics one event belongs to, from its type and (for match messages) the match's status. */
export type TopicsOf = (event: Pick<OutboxEvent, 'data'>) => readonly Topic[];

const only = (...topics: Topic[]): TopicsOf => {
  const list: readonly Topic[] = Object.freeze(topics);
  return () => list;
};
const LIVE: readonly Topic[] = Object.freeze(['live']);
const LIVE_AND_RESULTS: readonly Topic[] = Object.freeze(['live', 'results']);
/** A match's own messages are live; once the match is finished they are also its result (the final whistle, a corrected final score). */
const liveOrResult: TopicsOf = (event) => (event.data.status === 'finished' ? LIVE_AND_RESULTS : LIVE);
/** Private streams' messages (user, purchase): their channels have no topics. */
const none = only();

/**
 * THE mapping from message type to topic (docs/protocol.md, Topics). `satisfies` makes it
 * total: a new EventType does not compile until it is given its topics here, and the unit test
 * (packages/protocol/test/unit/topics.test.ts) fails for a type the migrations emit that is
 * missing.
 */
export const TOPICS_BY_TYPE = {
  match_update: liveOrResult,
  match_status: liveOrResult,
  match_event: only('live'),
  schedule_update: only('schedule'),
  league_table: only('results'),
  league_access: none,
  notification: none,
  notification_read: none,
  notifications_read_all: none,
  notification_deleted: none,
  purchase: none,
  announcement: only('announcements'),
  announcement_updated: only('announcements'),
  announcement_expired: only('announcements'),
  canary: none,
} as const satisfies Record<EventType, TopicsOf>;

const NO_TOPICS: readonly Topic[] = Object.freeze([]);

/**
 * The topics of one event; none for a type this build does not know (it still reaches the base
 * channels). Own keys only: a type named after an Object.prototype member (`constructor`) came
 * off the bus once and was taken for a rule.
 */
export function topicsOf(event: Pick<OutboxEvent, 'type' | 'data'>): readonly Topic[] {
  if (!Object.hasOwn(TOPICS_BY_TYPE, event.type)) return NO_TOPICS;
  return (TOPICS_BY_TYPE as Record<string, TopicsOf>)[event.type]!(event);
}

/** Whether a routed channel has topic channels (match, league, team, all; not live:all nor private ones). Cheap: by prefix. */
export function carriesTopics(channel: string): boolean {
  return channel === 'all' || channel.startsWith('match:') || channel.startsWith('league:') || channel.startsWith('team:');
}

/**
 * Every channel an event is delivered on, most specific first: each channel of routeEvent,
 * preceded by its topic channels for this event's topics (`league:l1/results`, `league:l1`, …),
 * so a client on a channel and one of its topics gets the event once, on the topic. Computed once per
 * event; fan-out builds frames only for the names that have subscribers, so a topic filter
 * costs one map lookup per channel and topic, never a check per client. `withTopics` narrows
 * which routed channels get their topic names (fan-out: only those someone subscribed a topic
 * of, so unused topics cost no string building); by default every channel that has topics.
 */
export function deliveryChannels(
  event: Pick<OutboxEvent, 'stream' | 'type' | 'match_id' | 'data'>,
  withTopics: (channel: string) => boolean = carriesTopics,
): string[] {
  const channels = routeEvent(event);
  const topics = topicsOf(event);
  if (topics.length === 0) return channels;
  const named: string[] = [];
  for (const channel of channels) {
    if (withTopics(channel)) for (const topic of topics) named.push(`${channel}/${topic}`);
    named.push(channel);
  }
  return named;
}
