import WebSocket from 'ws';

/** What the runner keeps of each server message: enough to count and order events. */
export interface RecordedMessage {
  type: string;
  stream?: string;
  seq?: number;
  id?: string;
  channel?: string;
  code?: string;
}

/**
 * A WebSocket client that behaves like a well-written real one (docs/protocol.md's client
 * recipe): it records every message, and after any close it reconnects (with jitter) and
 * subscribes again with `resume` (its last seq per stream) and `since` (the timestamp of the
 * last event it got, or the server time of its first connection when it got none yet), so a
 * restarted gateway replays what it missed, including streams it had not seen before.
 */
export class RecordingClient {
  readonly messages: RecordedMessage[] = [];
  readonly positions = new Map<string, number>();
  readonly closeCodes: number[] = [];
  /** The first message of each type in full, for checks on fields beyond the accounting ones. */
  readonly samples = new Map<string, Record<string, unknown>>();
  connects = 0;
  private since: string | undefined;
  private ws: WebSocket | undefined;
  private stopped = false;

  constructor(
    private target: string,
    readonly channels: string[],
  ) {}

  get url(): string {
    return this.target;
  }

  /** Points later reconnects at another gateway (a restarted or second one). */
  retarget(url: string): void {
    this.target = url;
  }

  /** Event messages only (those with a stream and seq). */
  events(): RecordedMessage[] {
    return this.messages.filter((m) => m.stream !== undefined && typeof m.seq === 'number');
  }

  /** Error messages the server sent (e.g. RESUME_TOO_OLD). */
  errors(): RecordedMessage[] {
    return this.messages.filter((m) => m.type === 'error');
  }

  /** Connects and resolves once the server confirmed the subscription. */
  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.target, { handshakeTimeout: 5000 });
      this.ws = ws;
      let subscribed = false;
      ws.on('open', () => {
        this.connects++;
        const resume = Object.fromEntries(this.positions);
        ws.send(JSON.stringify({ action: 'subscribe', channels: this.channels, resume, since: this.since }));
      });
      ws.on('message', (data) => {
        const raw = JSON.parse(data.toString()) as Record<string, unknown>;
        const message: RecordedMessage = { type: String(raw.type) };
        if (typeof raw.stream === 'string') message.stream = raw.stream;
        if (typeof raw.seq === 'number') message.seq = raw.seq;
        if (typeof raw.id === 'string') message.id = raw.id;
        if (typeof raw.channel === 'string') message.channel = raw.channel;
        if (typeof raw.code === 'string') message.code = raw.code;
        this.messages.push(message);
        if (!this.samples.has(message.type)) this.samples.set(message.type, raw);
        if (message.stream !== undefined && message.seq !== undefined) {
          this.positions.set(message.stream, message.seq);
          if (typeof raw.timestamp === 'string') this.since = raw.timestamp;
        }
        // Before any event: "everything after I first subscribed", in the server's clock.
        if (message.type === 'connection_status' && this.since === undefined && typeof raw.server_time === 'string') {
          this.since = raw.server_time;
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
        if (!this.stopped) this.reconnectSoon();
      });
    });
  }

  private reconnectSoon(): void {
    const timer = setTimeout(
      () => {
        // A failed attempt ends in 'close' too, which schedules the next one.
        if (!this.stopped) this.connect().catch(() => undefined);
      },
      100 + Math.random() * 200,
    );
    timer.unref();
  }

  close(): void {
    this.stopped = true;
    this.ws?.close();
  }
}
