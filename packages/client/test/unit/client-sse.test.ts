/**
 * MatchcastClient on Server-Sent Events against a scripted EventSource (no network): the
 * fallback from WebSocket, the stream URL, the since rule, reopens on channel changes and
 * token refresh, drain, and the EventSource's own reconnect (resuming by Last-Event-ID) until
 * the browser gives up.
 */
import { MatchcastClient } from '../../src/client';
import { BROWSER_RETRIES } from '../../src/transport-sse';
import type { MatchcastClientOptions, MatchcastError } from '../../src/types';

class FakeSource {
  static all: FakeSource[] = [];
  readyState = 0;
  closed = false;
  onopen: ((e: unknown) => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onerror: ((e: unknown) => void) | null = null;
  private readonly pingListeners: ((e: unknown) => void)[] = [];
  constructor(readonly url: string) {
    FakeSource.all.push(this);
  }
  addEventListener(type: string, listener: (e: unknown) => void): void {
    if (type === 'ping') this.pingListeners.push(listener);
  }
  close(): void {
    this.closed = true;
    this.readyState = 2;
  }
  get query() {
    const params = new URL(this.url).searchParams;
    return { channels: params.get('channels'), resume: params.has('resume') ? JSON.parse(params.get('resume')!) : undefined, since: params.get('since') ?? undefined, token: params.get('token') ?? undefined };
  }
  // server side
  open(serverTime = '2026-01-01T00:00:00.000Z', keepAliveMs?: number): void {
    this.readyState = 1;
    this.onopen?.({});
    this.message({ type: 'connection_status', status: 'connected', connection_id: 'c', server_time: serverTime, keep_alive_ms: keepAliveMs });
    this.message({ type: 'subscribed', channels: this.query.channels!.split(',') });
  }
  /** The keep-alive: a `ping` event, which `onmessage` does not see. */
  ping(): void {
    for (const listener of this.pingListeners) listener({ data: '{}' });
  }
  message(m: unknown): void {
    this.onmessage?.({ data: JSON.stringify(m) });
  }
  /** The stream ends (or cannot connect): a browser's EventSource now reconnects by itself. */
  end(code?: string): void {
    if (code) this.message({ type: 'error', code, message: code });
    this.readyState = 0;
    this.onerror?.({});
  }
  /** The browser gives up (e.g. its reconnect got an HTTP error). */
  fail(status?: number): void {
    this.readyState = 2;
    this.onerror?.(status === undefined ? {} : { status });
  }
}

class FailingSocket {
  static count = 0;
  readyState = 0;
  onopen: ((e: unknown) => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onclose: ((e: { code: number }) => void) | null = null;
  onerror: ((e: unknown) => void) | null = null;
  constructor(readonly url: string) {
    FailingSocket.count++;
    setTimeout(() => {
      this.onerror?.({ message: 'Unexpected server response: 400' });
      this.onclose?.({ code: 1006 });
    }, 1);
  }
  send(): void {}
  close(): void {}
}

const last = () => FakeSource.all[FakeSource.all.length - 1]!;
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const jwt = (sub: string, expMs: number, n = 0) => `${b64({ alg: 'HS256' })}.${b64({ sub, exp: Math.floor(expMs / 1000), n })}.sig`;
const event = (stream: string, seq: number, timestamp: string, channel = 'all') => ({
  type: 'match_update',
  match_id: stream.slice(6),
  data: { seq },
  timestamp,
  channel,
  stream,
  seq,
  id: String(seq),
});
const at = (s: number) => `2026-01-01T00:00:${String(s).padStart(2, '0')}.000Z`;
const flush = () => jest.advanceTimersByTimeAsync(0);

function makeClient(options: Partial<MatchcastClientOptions> = {}) {
  const states: string[] = [];
  const errors: MatchcastError[] = [];
  const client = new MatchcastClient({
    url: 'ws://gw/ws',
    WebSocket: FailingSocket,
    EventSource: FakeSource,
    transports: ['sse'],
    backoff: { baseMs: 100, maxMs: 1000, drainJitterMs: 200, lostJitterMs: 100 },
    connectTimeoutMs: 0, // on in the tests of it only: others leave attempts hanging on purpose
    onState: (s) => states.push(s),
    onError: (e) => errors.push(e),
    ...options,
  });
  return { client, states, errors };
}

beforeEach(() => {
  FakeSource.all = [];
  FailingSocket.count = 0;
  jest.useFakeTimers({ now: Date.parse('2026-01-01T00:01:00.000Z') });
});
afterEach(() => jest.useRealTimers());

it('falls back to SSE after `fallbackAfter` WebSocket attempts fail before open, and stays there', async () => {
  const { client, states } = makeClient({ transports: undefined, fallbackAfter: 2 });
  const seen: number[] = [];
  client.subscribe('all', (e) => seen.push(e.seq));
  client.connect();
  await jest.advanceTimersByTimeAsync(2000);
  expect(FailingSocket.count).toBe(2);
  expect(FakeSource.all).toHaveLength(1);
  expect(last().url).toBe('http://gw/sse?channels=all');
  last().open();
  expect(client.state).toBe('live');
  last().message(event('match:a', 1, at(1)));
  last().fail();
  await jest.advanceTimersByTimeAsync(2000);
  expect(FailingSocket.count).toBe(2); // an SSE stream that had opened: SSE again
  expect(FakeSource.all).toHaveLength(2);
  expect(last().query.resume).toEqual({ 'match:a': 1 });
  expect(seen).toEqual([1]);
  expect(states).toEqual(['connecting', 'live', 'reconnecting']);
  client.close();
});

it('goes back to WebSocket when the SSE stream cannot open either', async () => {
  const { client } = makeClient({ transports: ['websocket', 'sse'], fallbackAfter: 1 });
  client.subscribe('all', () => undefined);
  client.connect();
  await jest.advanceTimersByTimeAsync(300);
  expect(FailingSocket.count).toBe(1);
  expect(FakeSource.all).toHaveLength(1);
  last().end(); // before open
  await jest.advanceTimersByTimeAsync(2000);
  expect(FailingSocket.count).toBe(2);
  client.close();
});

it('lets the EventSource reconnect by itself (its Last-Event-ID resumes every stream), showing reconnecting meanwhile', async () => {
  const { client, states } = makeClient();
  const seen: string[] = [];
  client.subscribe('all', (e) => seen.push(`${e.stream}@${e.seq}`));
  client.connect();
  await flush();
  const source = last();
  source.open();
  source.message(event('match:a', 3, at(3)));
  source.end();
  expect(source.closed).toBe(false);
  expect(client.state).toBe('reconnecting');
  source.end(); // a failed retry (the server is down)
  await jest.advanceTimersByTimeAsync(5000);
  expect(FakeSource.all).toHaveLength(1);
  source.open(); // the browser is back, on the same URL
  source.message(event('match:a', 3, at(3))); // a double is still dropped by seq
  source.message(event('match:a', 4, at(4)));
  source.message({ type: 'resumed', channels: ['all'] });
  expect(client.state).toBe('live');
  expect(seen).toEqual(['match:a@3', 'match:a@4']);
  expect(states).toEqual(['connecting', 'live', 'reconnecting', 'live']);
  expect(client.diagnostics.connects).toBe(2);
  client.close();
  expect(source.closed).toBe(true);
});

it('ends a stream silent for two of the keep-alive intervals the server announced, and reconnects resuming; pings and events keep it', async () => {
  const { client, states } = makeClient();
  client.subscribe('all', () => undefined);
  client.connect();
  await flush();
  const source = last();
  source.open(undefined, 1000);
  source.message(event('match:a', 3, at(3)));
  for (let i = 0; i < 5; i++) {
    await jest.advanceTimersByTimeAsync(1000);
    source.ping();
  }
  await jest.advanceTimersByTimeAsync(1500);
  source.message(event('match:a', 4, at(4)));
  await jest.advanceTimersByTimeAsync(1500);
  expect(FakeSource.all).toHaveLength(1);
  expect(client.state).toBe('live');
  // A frozen server or a connection dropped without a FIN: nothing more comes, and the browser waits for ever.
  await jest.advanceTimersByTimeAsync(3000);
  expect(source.closed).toBe(true);
  await jest.advanceTimersByTimeAsync(1000);
  expect(FakeSource.all).toHaveLength(2);
  expect(last().query.resume).toEqual({ 'match:a': 4 });
  expect(states).toEqual(['connecting', 'live', 'reconnecting']);
  client.close();
});

it('never ends a quiet stream whose server announced no keep-alive (an older gateway)', async () => {
  const { client } = makeClient();
  client.subscribe('all', () => undefined);
  client.connect();
  await flush();
  last().open();
  await jest.advanceTimersByTimeAsync(600_000);
  expect(FakeSource.all).toHaveLength(1);
  expect(last().closed).toBe(false);
  client.close();
});

it('takes over with a fresh URL when the browser gives up, or after its retries keep failing', async () => {
  const { client } = makeClient();
  client.subscribe('all', () => undefined);
  client.connect();
  await flush();
  last().open();
  last().message(event('match:a', 3, at(3)));
  last().fail(); // e.g. a 400 for a token another key signed
  await jest.advanceTimersByTimeAsync(1000);
  expect(FakeSource.all).toHaveLength(2);
  expect(last().query).toMatchObject({ channels: 'all', resume: { 'match:a': 3 }, since: at(3) });

  last().open();
  for (let i = 0; i <= BROWSER_RETRIES; i++) last().end();
  expect(last().closed).toBe(true);
  await jest.advanceTimersByTimeAsync(1000);
  expect(FakeSource.all).toHaveLength(3);
  client.close();
});

it('since on SSE: held while the resume is replayed, moves only when the server says the replays are done', async () => {
  const { client } = makeClient({ maxResume: 1 });
  client.subscribe('all', () => undefined);
  client.connect();
  await flush();
  last().open();
  last().message(event('match:a', 1, at(1)));
  last().message(event('match:b', 1, at(2)));
  last().fail();
  await jest.advanceTimersByTimeAsync(1000);

  // Reconnected with resume b and since 02; b's replay runs, then the stream is cut before a's.
  expect(last().query).toMatchObject({ resume: { 'match:b': 1 }, since: at(2) });
  last().open();
  for (let seq = 2; seq <= 5; seq++) last().message(event('match:b', seq, at(seq * 6)));
  await jest.advanceTimersByTimeAsync(5000); // however long it is quiet: no `resumed`, no move
  last().fail();
  await jest.advanceTimersByTimeAsync(1000);

  // since is still 02: a's events after it (not in resume, maxResume 1) get replayed.
  expect(last().query).toMatchObject({ resume: { 'match:b': 5 }, since: at(2) });
  last().open();
  last().message(event('match:a', 2, at(3)));
  last().message(event('match:a', 3, at(4)));
  last().message({ type: 'resumed', channels: ['all'] });
  last().message(event('match:b', 6, '2026-01-01T00:01:01.000Z'));
  last().fail();
  await jest.advanceTimersByTimeAsync(1000);
  expect(last().query.since).toBe('2026-01-01T00:01:01.000Z');
  client.close();
});

it('subscribe and unsubscribe on SSE reopen the stream once (debounced) with the current resume, staying live', async () => {
  const { client, states } = makeClient();
  const seen: string[] = [];
  client.subscribe('all', (e) => seen.push(`${e.stream}@${e.seq}`));
  client.connect();
  await flush();
  last().open();
  last().message(event('match:a', 1, at(1)));
  client.subscribe('match:x', () => undefined);
  client.subscribe('match:y', () => undefined);
  client.unsubscribe('match:y');
  last().message(event('match:a', 2, at(2))); // still arriving on the old stream
  await jest.advanceTimersByTimeAsync(50);
  expect(FakeSource.all).toHaveLength(2);
  expect(FakeSource.all[0]!.closed).toBe(true);
  expect(last().query).toMatchObject({ channels: 'all,match:x', resume: { 'match:a': 2 } });
  last().open();
  last().message(event('match:a', 2, at(2))); // the overlap: dropped by seq
  last().message(event('match:a', 3, at(3)));
  expect(seen).toEqual(['match:a@1', 'match:a@2', 'match:a@3']);
  expect(states).toEqual(['connecting', 'live']);
  client.close();
});

it('a stream reopened while live (a channel added) that the server answers keeps no connect deadline', async () => {
  const { client, states } = makeClient({ connectTimeoutMs: 5000 });
  client.subscribe('all', () => undefined);
  client.connect();
  await flush();
  last().open();
  client.subscribe('match:x', () => undefined);
  await jest.advanceTimersByTimeAsync(50);
  expect(FakeSource.all).toHaveLength(2);
  last().open();
  await jest.advanceTimersByTimeAsync(60_000);
  expect(FakeSource.all).toHaveLength(2);
  expect(last().closed).toBe(false);
  expect(states).toEqual(['connecting', 'live']);
  client.close();
});

it('with no channel on SSE it is live without a stream; the first subscribe opens one', async () => {
  const { client } = makeClient();
  client.connect();
  await flush();
  expect(client.state).toBe('live');
  expect(FakeSource.all).toHaveLength(0);
  client.subscribe('all', () => undefined);
  await jest.advanceTimersByTimeAsync(50);
  expect(last().query.channels).toBe('all');
  client.close();
});

it('refreshes the token on SSE by reopening the stream with the new one before expiry', async () => {
  let n = 0;
  const now = Date.now();
  const token = jest.fn(async () => jwt('u', now + 120_000 * (n + 1), n++));
  const { client } = makeClient({ token, refreshLeadMs: 30_000 });
  client.subscribe('user:u', () => undefined);
  client.connect();
  await flush();
  const first = last();
  expect(first.query.token).toBe(jwt('u', now + 120_000, 0));
  first.open();
  await jest.advanceTimersByTimeAsync(89_000);
  expect(FakeSource.all).toHaveLength(1);
  await jest.advanceTimersByTimeAsync(2000);
  expect(FakeSource.all).toHaveLength(2);
  expect(first.closed).toBe(true);
  expect(last().query.token).toBe(jwt('u', now + 240_000, 1));
  expect(client.state).toBe('live');
  client.close();
});

it('a draining server (SERVER_DRAINING then the end): the browser reconnects; if it cannot, the client does at once with jitter; not reported', async () => {
  const { client, errors } = makeClient({ backoff: { baseMs: 5000, maxMs: 30_000, drainJitterMs: 200 } });
  client.subscribe('all', () => undefined);
  client.connect();
  await flush();
  last().open();
  last().end('SERVER_DRAINING');
  expect(client.state).toBe('reconnecting');
  expect(FakeSource.all).toHaveLength(1);
  last().fail(); // its retry was refused (e.g. 503 from a full gateway)
  await jest.advanceTimersByTimeAsync(200);
  expect(FakeSource.all).toHaveLength(2);
  expect(errors).toEqual([]);
  client.close();
});

it('TOKEN_EXPIRED ends the stream: reconnects with a new token, or goes offline without a provider', async () => {
  const { client, errors } = makeClient();
  client.subscribe('all', () => undefined);
  client.connect();
  await flush();
  last().open();
  last().end('TOKEN_EXPIRED');
  await flush();
  expect(client.state).toBe('offline');
  expect(errors).toEqual([expect.objectContaining({ code: 'TOKEN_EXPIRED', fatal: true })]);
});

it('reports an error data message (e.g. RESUME_TOO_OLD) and resets the stream', async () => {
  const onReset = jest.fn(async () => ({ 'match:a': 10 }));
  const { client, errors } = makeClient({ onReset });
  const seen: number[] = [];
  client.subscribe('all', (e) => seen.push(e.seq));
  client.seed({ 'match:a': 1 });
  client.connect();
  await flush();
  last().open();
  last().message({ type: 'error', code: 'RESUME_TOO_OLD', message: 'old', stream: 'match:a' });
  last().message(event('match:a', 10, at(10)));
  last().message(event('match:a', 11, at(11)));
  await flush();
  expect(errors.map((e) => e.code)).toEqual(['RESUME_TOO_OLD']);
  expect(seen).toEqual([11]);
  client.close();
});

it('an HTTP refusal the implementation reports (the `eventsource` package gives `status`) is acted on like a refused upgrade', async () => {
  const { client, errors } = makeClient();
  client.subscribe('all', () => undefined);
  client.connect();
  await flush();
  last().onerror?.({ status: 403 });
  expect(client.state).toBe('offline');
  expect(errors[0]).toMatchObject({ fatal: true, httpStatus: 403 });
});

it('without WebSocket in `transports`, no WebSocket implementation is needed', () => {
  expect(() => new MatchcastClient({ url: 'ws://gw/ws', transports: ['sse'], EventSource: FakeSource, WebSocket: undefined })).not.toThrow();
  expect(() => new MatchcastClient({ url: 'ws://gw/ws', transports: ['sse'], WebSocket: FailingSocket })).toThrow(/EventSource/);
});
