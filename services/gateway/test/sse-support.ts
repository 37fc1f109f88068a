/** One Server-Sent Event as the browser's EventSource would parse it. */
export interface SseEvent {
  event: string;
  id: string | undefined;
  data: string;
  json: any;
}

/**
 * A minimal EventSource over fetch, for tests: parses the stream as the spec says (id sticks
 * until the server sends another, blocks without data still set it), collects events, and
 * exposes the last event id the browser would send on reconnect.
 */
export class SseStream {
  readonly events: SseEvent[] = [];
  status = 0;
  lastEventId = '';
  body: any;
  ended = false;
  private readonly controller = new AbortController();
  readonly done: Promise<void>;

  constructor(url: string, headers: Record<string, string> = {}) {
    this.done = this.run(url, headers).catch(() => undefined);
  }

  private async run(url: string, headers: Record<string, string>): Promise<void> {
    const res = await fetch(url, { headers, signal: this.controller.signal });
    this.status = res.status;
    if (!res.headers.get('content-type')?.includes('text/event-stream')) {
      this.body = await res.json().catch(() => undefined);
      this.ended = true;
      return;
    }
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    let block = { event: '', id: undefined as string | undefined, data: [] as string[] };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 1);
        if (line === '') {
          if (block.id !== undefined) this.lastEventId = block.id;
          if (block.data.length > 0) {
            const data = block.data.join('\n');
            let json: any;
            try {
              json = JSON.parse(data);
            } catch {
              json = undefined;
            }
            this.events.push({ event: block.event || 'message', id: block.id, data, json });
          }
          block = { event: '', id: undefined, data: [] };
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'data') block.data.push(value);
        else if (field === 'id') block.id = value;
        else if (field === 'event') block.event = value;
      }
    }
    this.ended = true;
  }

  /** Events carrying a stream position (outbox events). */
  get streamEvents(): any[] {
    return this.events.filter((e) => e.json?.stream !== undefined).map((e) => e.json);
  }

  async next(predicate: (event: SseEvent) => boolean, timeoutMs = 10_000): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = this.events.find(predicate);
      if (found) return found;
      if (this.ended && this.status !== 200) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`timed out (status ${this.status}); last events: ${JSON.stringify(this.events.slice(-5).map((e) => e.data))}`);
  }

  async opened(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.status === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  }

  close(): void {
    this.controller.abort();
  }
}
