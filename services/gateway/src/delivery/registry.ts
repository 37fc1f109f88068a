import { baseChannel } from '@matchcast/protocol';
import type { Subscriber } from './subscriber';

/** Told of every local subscription that begins or ends: the sequencer, which follows user streams only while subscribed. */
export interface ChannelInterest {
  track(channel: string): void;
  untrack(channel: string): void;
}

/**
 * channel → subscribers. The only index fan-out needs; kept in step with each client's own set.
 * Typed by the transports' client (`S`), so what reads the clients (presence) sees who they are.
 * A topic channel (`league:l1/results`) is a channel like any other here; beside it the registry
 * counts, per base channel, the topic subscriptions it has, so fan-out names an event's topic
 * channels only where someone listens to one.
 */
export class SubscriptionRegistry<S extends Subscriber = Subscriber> {
  private readonly byChannel = new Map<string, Set<S>>();
  private readonly all = new Set<S>();
  /** base channel → count of (client, topic channel of it) subscriptions. */
  private readonly topicSubscriptions = new Map<string, number>();
  /** For deliveryChannels: whether any client subscribes a topic channel of `channel`. */
  readonly hasTopicSubscribers = (channel: string): boolean => this.topicSubscriptions.has(channel);

  constructor(private readonly interest?: ChannelInterest) {}

  get size(): number {
    return this.all.size;
  }

  clients(): IterableIterator<S> {
    return this.all.values();
  }

  add(client: S): void {
    this.all.add(client);
  }

  /** False once the client was removed: work finishing late for it must not re-index it. */
  has(client: S): boolean {
    return this.all.has(client);
  }

  subscribers(channel: string): Set<S> | undefined {
    return this.byChannel.get(channel);
  }

  subscribe(client: S, channel: string): void {
    if (!this.all.has(client)) return;
    let set = this.byChannel.get(channel);
    if (!set) this.byChannel.set(channel, (set = new Set()));
    if (set.has(client)) return;
    set.add(client);
    client.channels.add(channel);
    if (channel.includes('/')) this.countTopic(baseChannel(channel), 1);
    this.interest?.track(channel);
  }

  unsubscribe(client: S, channel: string): void {
    const set = this.byChannel.get(channel);
    client.channels.delete(channel);
    if (!set?.delete(client)) return;
    if (set.size === 0) this.byChannel.delete(channel);
    if (channel.includes('/')) this.countTopic(baseChannel(channel), -1);
    this.interest?.untrack(channel);
  }

  private countTopic(base: string, by: 1 | -1): void {
    const count = (this.topicSubscriptions.get(base) ?? 0) + by;
    if (count > 0) this.topicSubscriptions.set(base, count);
    else this.topicSubscriptions.delete(base);
  }

  remove(client: S): void {
    for (const channel of [...client.channels]) this.unsubscribe(client, channel);
    this.all.delete(client);
  }
}
