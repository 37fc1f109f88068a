import { deliveryChannels, type OutboxEvent } from '@matchcast/protocol';
import { EventFrames } from './frames';
import type { SubscriptionRegistry } from './registry';
import type { Subscriber } from './subscriber';

/** What fan-out reports; the gateway's metrics fit it. */
export interface FanoutMetrics {
  delivered: { inc(count: number): void };
  commitToSendSeconds: { observe(seconds: number): void };
}

/**
 * Delivers one in-order event to every subscribed client, once per client, on the first of
 * its channels it subscribes to. Frames are built once per channel, never per client. Topic
 * channels (`league:l1/results`) are channels of their own in the registry: the event's
 * delivery channels name only the topics it belongs to, and only of channels someone subscribes
 * a topic of, so a topic filter costs a map lookup per channel, nothing per client, and a client
 * on both a channel and one of its topics gets the event once.
 */
export class Fanout {
  constructor(
    private readonly registry: SubscriptionRegistry,
    private readonly metrics: FanoutMetrics,
    /**
     * A client whose delivery threw. The loop goes on to the others: one client's fault (an
     * SSE slow consumer once recursed until the stack overflowed) must not cost anyone after it
     * in the loop this event.
     */
    private readonly onFault: (client: Subscriber, error: unknown) => void,
    /**
     * Which subscribers may have this event on which channel, when not all (undefined): a
     * private league's match, on any channel, only its members and admins (sessions.ts
     * `audience`). Asked once per event; costs a public event's clients nothing.
     */
    private readonly audience: (event: OutboxEvent) => ((channel: string, client: Subscriber) => boolean) | undefined = () => undefined,
  ) {}

  deliver(event: OutboxEvent): void {
    let delivered = 0;
    const admits = this.audience(event);
    for (const channel of deliveryChannels(event, this.registry.hasTopicSubscribers)) {
      const clients = this.registry.subscribers(channel);
      if (!clients) continue;
      const frames = new EventFrames(event, channel);
      for (const client of clients) {
        if (client.lastEvent === event || (admits && !admits(channel, client))) continue;
        client.lastEvent = event;
        try {
          if (handOver(client, frames)) delivered++;
        } catch (error) {
          this.onFault(client, error);
        }
      }
    }
    this.metrics.delivered.inc(delivered);
    const lagMs = Date.now() - Date.parse(event.timestamp);
    if (Number.isFinite(lagMs)) this.metrics.commitToSendSeconds.observe(Math.max(0, lagMs) / 1000);
  }
}

/**
 * Gives one event to one client as live delivery does: held while its subscribe is being
 * set up, skipped when it already has it, buffered while its stream is being replayed, else
 * written. True when it was written.
 */
export function handOver(client: Subscriber, frames: EventFrames): boolean {
  if (client.holding) {
    client.holding.push(frames);
    return false;
  }
  const event = frames.event;
  if (client.seenUpTo && alreadySeen(client, client.seenUpTo, event)) return false;
  const waiting = client.resuming?.get(event.stream);
  if (waiting) {
    waiting.push(frames);
    return false;
  }
  return client.deliver(frames);
}

/** For a client that resumed ahead of this gateway: skip what it has, forget the mark once passed. */
function alreadySeen(client: Subscriber, seenUpTo: Map<string, number>, event: OutboxEvent): boolean {
  const upTo = seenUpTo.get(event.stream);
  if (upTo === undefined) return false;
  if (event.seq >= upTo) {
    seenUpTo.delete(event.stream);
    if (seenUpTo.size === 0) client.seenUpTo = undefined;
  }
  return event.seq <= upTo;
}
