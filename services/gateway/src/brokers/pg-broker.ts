import { ListenConnection } from '@matchcast/db';
import { InvalidBusMessage, decodeNotification } from '@matchcast/protocol';
import type { Logger } from '@matchcast/runtime';
import type { Broker, BrokerListener } from './broker';

export interface PgBrokerOptions {
  connectionString: string;
  channels: readonly string[];
}

/**
 * The gateway's own Postgres LISTEN connection: the fallback path while Redis is down, and
 * the only path in Postgres mode. Started on demand so that in normal operation the cluster
 * holds a single LISTEN connection (the notify-listener leader's).
 */
export class PgBroker implements Broker {
  readonly mode = 'postgres' as const;
  private readonly connection: ListenConnection;

  constructor(
    options: PgBrokerOptions,
    private readonly logger: Logger,
  ) {
    this.connection = new ListenConnection({
      connectionString: options.connectionString,
      channels: options.channels,
      logger,
      applicationName: 'matchcast-gateway-fallback',
      verifySignatures: true,
    });
  }

  start(listener: BrokerListener): void {
    this.connection.on('listening', () => listener.ready('postgres'));
    this.connection.on('lost', (error: Error) => listener.down('postgres', error));
    this.connection.on('rejected', (_channel: string, error: InvalidBusMessage) => listener.invalid('postgres', error));
    this.connection.on('notification', (_channel: string, payload: string) => {
      try {
        listener.event(decodeNotification(payload), 'postgres');
      } catch (error) {
        if (error instanceof InvalidBusMessage) listener.invalid('postgres', error);
        else this.logger.error({ err: error }, 'handling a notification failed');
      }
    });
    this.connection.start();
  }

  healthy(): boolean {
    return this.connection.state === 'listening';
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}
