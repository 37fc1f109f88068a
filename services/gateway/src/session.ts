import { oldestSeq, readStream, streamsChangedSince } from '@matchcast/db';
import { ProtocolError, parseChannel, routeEvent, type ClientMessage } from '@matchcast/protocol';
import type { Logger } from '@matchcast/runtime';
import type { Pool } from 'pg';
import { authorizeChannel } from './auth';
import type { Config } from './config';
import type { GatewayMetrics } from './metrics';
import type { Sequencer } from './sequencer';
import { EventFrames } from './transport/frames';
import type { SubscriptionRegistry } from './transport/registry';
import type { Subscriber } from './transport/subscriber';

/** Transactions rarely run longer than this between an event's creation and its commit. */
const SINCE_MARGIN_MS = 5000;

/** What clients ask of the gateway, whatever the transport: subscribe (with resume), unsubscribe, ping. */
export class Sessions {
  constructor(
    private readonly config: Config,
    private readonly registry: SubscriptionRegistry,
    private readonly sequencer: Sequencer,
    private readonly db: Pool,
    private readonly metrics: GatewayMetrics,
    private readonly logger: Logger,
  ) {}

  async handle(client: Subscriber, message: ClientMessage): Promise<void> {
    switch (message.action) {
      case 'subscribe':
        return this.subscribe(client, message.channels, message.resume, message.since);
      case 'unsubscribe':
        for (const channel of message.channels) this.registry.unsubscribe(client, channel);
        client.send({ type: 'unsubscribed', channels: message.channels });
        return;
      case 'ping':
        client.send({ type: 'pong', timestamp: new Date().toISOString() });
        return;
    }
  }

  /** Sends an error message with its stable code; the connection lives on. */
  reject(client: Subscriber, error: unknown): void {
    const failure =
      error instanceof ProtocolError ? error : new ProtocolError('INTERNAL', undefined, { cause: error });
    if (failure.code === 'INTERNAL') this.logger.error({ err: error, client_id: client.id }, 'request failed');
    this.metrics.clientErrors.inc({ code: failure.code });
    client.send({ type: 'error', code: failure.code, message: failure.message });
  }

  async subscribe(client: Subscriber, channels: string[], resume: Map<string, number>, since?: string): Promise<void> {
    const added = channels.filter((name) => !client.channels.has(name));
    if (client.channels.size + added.length > this.config.ws.maxChannels) {
      throw new ProtocolError('TOO_MANY_CHANNELS', `at most ${this.config.ws.maxChannels} channels per connection`);
    }
    for (const name of added) authorizeChannel({ userId: client.userId }, parseChannel(name));
    if (since !== undefined) {
      const unseen = await streamsChangedSince(this.db, since, SINCE_MARGIN_MS, [...resume.keys()]);
      for (const [stream, afterSeq] of unseen) resume.set(stream, afterSeq);
    }
    // Mark every resumed stream before the first await, so no live event of any of them
    // can overtake its replay.
    const replays: { stream: string; afterSeq: number; head: number }[] = [];
    const refused: ProtocolError[] = [];
    for (const [stream, afterSeq] of resume) {
      const head = this.sequencer.lastSeq(stream);
      if (afterSeq >= head) {
        if (afterSeq > head) client.seenUpTo.set(stream, afterSeq);
      } else if (head - afterSeq > this.config.history.maxReplayEvents) {
        refused.push(new ProtocolError('RESUME_TOO_OLD', `${stream} is ${head - afterSeq} events behind; reload state`));
      } else {
        client.resuming.set(stream, []);
        replays.push({ stream, afterSeq, head });
      }
    }
    for (const name of added) this.registry.subscribe(client, name);
    client.send({ type: 'subscribed', channels });
    for (const error of refused) this.reject(client, error);
    for (const { stream, afterSeq, head } of replays) {
      try {
        await this.replay(client, stream, afterSeq, head);
      } catch (error) {
        this.reject(client, error);
      }
    }
  }

  /**
   * Replays a stream's events in (afterSeq, head] from the outbox, then goes live. Live
   * events of the stream wait in the client's `resuming` buffer meanwhile; everything up to
   * `head` comes from the replay and everything after from the buffer, so the seam has no
   * gap and no duplicate.
   */
  private async replay(client: Subscriber, stream: string, afterSeq: number, head: number): Promise<void> {
    try {
      const oldest = await oldestSeq(this.db, stream);
      if (oldest === undefined || afterSeq + 1 < oldest) {
        throw new ProtocolError('RESUME_TOO_OLD', `${stream} history before seq ${oldest ?? head + 1} is gone; reload state`);
      }
      for (const event of await readStream(this.db, stream, afterSeq, head)) {
        const channel = routeEvent(event).find((name) => client.channels.has(name));
        if (channel) client.deliver(new EventFrames(event, channel));
      }
    } finally {
      const waiting = client.resuming.get(stream) ?? [];
      client.resuming.delete(stream);
      for (const frames of waiting) client.deliver(frames);
    }
  }
}
