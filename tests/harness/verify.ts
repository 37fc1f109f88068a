import { countDeliveries, expectedKeys, outboxWindow, type DeliveryCount, type RecordedMessage } from '@matchcast/chaos';
import type { OutboxEvent } from '@matchcast/protocol';
import type pg from 'pg';

export { maxOutboxId } from '@matchcast/chaos';

type Row = Pick<OutboxEvent, 'id' | 'stream' | 'seq' | 'match_id' | 'data'>;

/** Every outbox row with id > afterId. */
export function outboxRows(db: pg.Client | pg.Pool, afterId: string): Promise<Row[]> {
  return outboxWindow(db, afterId, '9223372036854775807');
}

/** What a client subscribed to `channels` received against what the outbox says it should have. */
export function compare(rows: readonly Row[], channels: readonly string[], received: readonly RecordedMessage[]): DeliveryCount {
  return countDeliveries(expectedKeys(rows, channels), received);
}
