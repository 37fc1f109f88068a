import type { Subscriber } from './subscriber';

/** Told of every local subscription that begins or ends: the sequencer, which follows user streams only while subscribed. */
export interface ChannelInterest {
  track(channel: string): void;
  untrack(channel: string): void;
}

/** channel → subscribers. The only index fan-out needs; kept in step with each client's own set. */
export class SubscriptionRegistry {
  private readonly byChannel = new Map<string, Set<Subscriber>>();
  private readonly all = new Set<Subscriber>();

  constructor(private readonly interest?: ChannelInterest) {}

  get size(): number {
    return this.all.size;
  }

  clients(): IterableIterator<Subscriber> {
    return this.all.values();
  }

  add(client: Subscriber): void {
    this.all.add(client);
  }

  /** False once the client was removed: work finishing late for it must not re-index it. */
  has(client: Subscriber): boolean {
    return this.all.has(client);
  }

  subscribers(channel: string): Set<Subscriber> | undefined {
    return this.byChannel.get(channel);
  }

  subscribe(client: Subscriber, channel: string): void {
    if (!this.all.has(client)) return;
    let set = this.byChannel.get(channel);
    if (!set) this.byChannel.set(channel, (set = new Set()));
    if (set.has(client)) return;
    set.add(client);
    client.channels.add(channel);
    this.interest?.track(channel);
  }

  unsubscribe(client: Subscriber, channel: string): void {
    const set = this.byChannel.get(channel);
    client.channels.delete(channel);
    if (!set?.delete(client)) return;
    if (set.size === 0) this.byChannel.delete(channel);
    this.interest?.untrack(channel);
  }

  remove(client: Subscriber): void {
    for (const channel of [...client.channels]) this.unsubscribe(client, channel);
    this.all.delete(client);
  }
}
