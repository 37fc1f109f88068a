import { isCanaryStream, type OutboxEvent, type OutboxRef } from '@matchcast/protocol';
import type { BrokerMode } from '../brokers/broker';
import type { EventSink } from '../brokers/supervisor';

/**
 * What the brokers hand to the gateway: canary streams' events go to the canary (or nowhere when
 * it is off), never to the sequencer — no client ever sees them, and a forged canary seq cannot
 * start a gap fill. Every other event goes to the sequencer.
 */
export function canarySink(sequencer: EventSink, canary: { received(item: OutboxEvent | OutboxRef): void } | undefined): EventSink {
  return {
    accept(item: OutboxEvent | OutboxRef, source: BrokerMode): void {
      if (isCanaryStream(item.stream)) canary?.received(item);
      else sequencer.accept(item, source);
    },
    catchUp: (windowMs) => sequencer.catchUp(windowMs),
  };
}
