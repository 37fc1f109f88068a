/** A scripted WebSocket for unit tests: records what the client sends; the test plays the server. */
export class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: any[] = [];
  closedWith: number | undefined;
  onopen: ((e: unknown) => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onclose: ((e: { code: number }) => void) | null = null;
  onerror: ((e: unknown) => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }
  close(code = 1000): void {
    this.closedWith = code;
    this.readyState = 3;
  }
  // server side
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
    this.message({ type: 'connection_status', status: 'connected', connection_id: 'c', server_time: '2026-01-01T00:00:00.000Z' });
  }
  message(m: unknown): void {
    this.onmessage?.({ data: JSON.stringify(m) });
  }
  drop(code: number): void {
    this.readyState = 3;
    this.onclose?.({ code });
  }
  refuse(status: number): void {
    this.onerror?.({ message: `Unexpected server response: ${status}` });
    this.drop(1006);
  }
  subscribes(): any[] {
    return this.sent.filter((m) => m.action === 'subscribe');
  }
}
