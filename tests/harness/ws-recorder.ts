import WebSocket from 'ws';

export interface Received {
  type: string;
  stream?: string;
  seq?: number;
  id?: string;
  channel?: string;
  [field: string]: unknown;
}

/**
 * A WebSocket client that records every message and reconnects with resume, like a real
 * client would: after any close it reconnects and sends its last seq per stream.
 */
export class WsRecorder {
  readonly messages: Received[] = [];
  readonly closeCodes: number[] = [];
  readonly positions = new Map<string, number>();
  /** `timestamp` of the last event received: streams first seen while away are replayed from it. */
  private since: string | undefined;
  private ws: WebSocket | undefined;
  private stopped = false;
  connects = 0;

  constructor(
    private url: string,
    readonly channels: string[],
    private readonly options: { reconnect?: boolean; localAddress?: string } = {},
  ) {}

  /** Points later reconnects at another gateway (a restarted or second one). */
  retarget(url: string): void {
    this.url = url;
  }

  events(): Received[] {
    return this.messages.filter((m) => m.stream !== undefined && m.seq !== undefined);
  }

  /** Connects and resolves once the server confirmed the subscription. */
  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url, { localAddress: this.options.localAddress });
      this.ws = ws;
      let subscribed = false;
      ws.on('open', () => {
        this.connects++;
        const resume = Object.fromEntries(this.positions);
        ws.send(JSON.stringify({ action: 'subscribe', channels: this.channels, resume, since: this.since }));
      });
      ws.on('message', (data) => {
        const message = JSON.parse(data.toString()) as Received;
        this.messages.push(message);
        if (message.stream && typeof message.seq === 'number') {
          this.positions.set(message.stream, message.seq);
          this.since = message.timestamp as string;
        }
        if (message.type === 'subscribed' && !subscribed) {
          subscribed = true;
          resolve();
        }
      });
      ws.on('error', (error) => {
        if (!subscribed) reject(error);
      });
      ws.on('close', (code) => {
        this.closeCodes.push(code);
        if (!subscribed) reject(new Error(`closed with ${code} before subscribing`));
        if (this.options.reconnect && !this.stopped) this.reconnectSoon();
      });
    });
  }

  private reconnectSoon(): void {
    setTimeout(() => {
      if (this.stopped) return;
      // A failed attempt closes too, and its close handler schedules the next one.
      this.connect().catch(() => undefined);
    }, 100 + Math.random() * 200);
  }

  close(): void {
    this.stopped = true;
    this.ws?.close();
  }
}
