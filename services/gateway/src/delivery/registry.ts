import type { Subscriber } from './subscriber';

/** channel → subscribers. The only index fan-out needs; kept in step with each client's own set. */
export class SubscriptionRegistry {
  private readonly byChannel = new Map<string, Set<Subscriber>>();
  private readonly all = new Set<Subscriber>();

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
    set.add(client);
    client.channels.add(channel);
  }

  unsubscribe(client: Subscriber, channel: string): void {
    const set = this.byChannel.get(channel);
    if (set?.delete(client) && set.size === 0) this.byChannel.delete(channel);
    client.channels.delete(channel);
  }

  remove(client: Subscriber): void {
    for (const channel of [...client.channels]) this.unsubscribe(client, channel);
    this.all.delete(client);
  }
}
