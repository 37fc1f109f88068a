/**
 * MatchcastClient's decisions against a scripted WebSocket (no network): what it sends on
 * (re)connect, dedup, close-code handling, token refresh, resets and close().
 */
import { MatchcastClient, RESET_TIMEOUT_MS } from '../../src/client';
import type { MatchcastClientOptions, MatchcastError } from '../../src/types';
import { FakeSocket } from './fake-socket';

const last = () => FakeSocket.all[FakeSocket.all.length - 1]!;
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const jwt = (sub: string, expMs: number, n = 0) => `${b64({ alg: 'HS256' })}.${b64({ sub, exp: Math.floor(expMs / 1000), n })}.sig`;
const event = (stream: string, seq: number, channel = 'all', timestamp = `2026-01-01T00:00:${String(seq % 60).padStart(2, '0')}.000Z`) => ({
  type: 'match_update',
  match_id: stream.slice(6),
  data: { seq },
  timestamp,
  channel,
  stream,
  seq,
  id: String(seq),
});
const flush = () => jest.advanceTimersByTimeAsync(0);

function makeClient(options: Partial<MatchcastClientOptions> = {}) {
  const states: string[] = [];
  const errors: MatchcastError[] = [];
  const client = new MatchcastClient({
    url: 'ws://gw/ws',
    WebSocket: FakeSocket,
    backoff: { baseMs: 100, maxMs: 1000, lostJitterMs: 100 },
    pingIntervalMs: 0,
    connectTimeoutMs: 0, // on in the tests of it only: others leave attempts hanging on purpose
    onState: (s) => states.push(s),
    onError: (e) => errors.push(e),
    ...options,
  });
  return { client, states, errors };
}

beforeEach(() => {
  FakeSocket.all = [];
  jest.useFakeTimers({ now: Date.parse('2026-01-01T00:00:00.000Z') });
});
afterEach(() => jest.useRealTimers());

it('subscribes on open, goes live on `subscribed`, delivers per channel once and in order', async () => {
  const { client, states } = makeClient();
  const all: number[] = [];
  const one: number[] = [];
  client.subscribe('all', (e) => all.push(e.seq));
  client.subscribe('match:x', (e) => one.push(e.seq));
  client.connect();
  await flush();
  last().open();
  expect(last().subscribes()).toEqual([{ action: 'subscribe', channels: ['all', 'match:x'] }]);
  expect(client.state).toBe('connecting');
  last().message({ type: 'subscribed', channels: ['all', 'match:x'] });
  expect(client.state).toBe('live');
  for (const seq of [1, 2, 2, 1, 3]) last().message(event('match:a', seq));
  last().message(event('match:x', 5, 'match:x'));
  last().message(event('match:b', 9, 'league:nobody')); // not a channel of ours
  expect(all).toEqual([1, 2, 3]);
  expect(one).toEqual([5]);
  expect(client.diagnostics).toMatchObject({ duplicates: 2, gaps: 0, connects: 1 });
  expect(states).toEqual(['connecting', 'live']);
  client.close();
});

it('counts a gap and goes on (no stall)', async () => {
  const { client } = makeClient();
  const seen: number[] = [];
  const gaps: unknown[] = [];
  client.on('gap', (g) => gaps.push(g));
  client.subscribe('all', (e) => seen.push(e.seq));
  client.connect();
  await flush();
  last().open();
  for (const seq of [1, 2, 5, 6]) last().message(event('match:a', seq));
  expect(seen).toEqual([1, 2, 5, 6]);
  expect(gaps).toEqual([{ stream: 'match:a', expected: 3, received: 5 }]);
  client.close();
});

it('reconnects with backoff, resume of subscribed streams and since = newest timestamp', async () => {
  const { client, states } = makeClient();
  client.subscribe('all', () => undefined);
  const off = client.subscribe('league:epl', () => undefined);
  client.connect();
  await flush();
  last().open();
  last().message({ type: 'subscribed', channels: ['all', 'league:epl'] });
  last().message(event('match:a', 4, 'all', '2026-01-01T00:00:04.000Z'));
  last().message(event('match:b', 7, 'league:epl', '2026-01-01T00:00:07.000Z'));
  off();
  await flush(); // channel changes go out at the end of the task
  expect(last().sent.at(-1)).toEqual({ action: 'unsubscribe', channels: ['league:epl'] });
  last().drop(1006);
  expect(client.state).toBe('reconnecting');
  await jest.advanceTimersByTimeAsync(100); // a live connection lost: within lostJitterMs
  expect(FakeSocket.all).toHaveLength(2);
  last().open();
  expect(last().subscribes()).toEqual([
    { action: 'subscribe', channels: ['all'], resume: { 'match:a': 4 }, since: '2026-01-01T00:00:07.000Z' },
  ]);
  last().message({ type: 'subscribed', channels: ['all'] });
  expect(states).toEqual(['connecting', 'live', 'reconnecting', 'live']);
  client.close();
});

it('a connection lost mid-replay does not move `since`: it moves once the pong after the subscribe says the replay is complete', async () => {
  // Found by tests/chaos/client-schedules.test.ts: the gateway replays resumed streams one
  // after another, so a newer event of one stream arrives before older ones of the next.
  // Cut in between, `since` had moved past the missed events of streams not in `resume`
  // (maxResume) or never seen (a match reaching live:all while away): lost for good.
  const { client } = makeClient({ maxResume: 1 });
  const seen: string[] = [];
  client.subscribe('all', (e) => seen.push(`${e.stream}@${e.seq}`));
  client.connect();
  await flush();
  last().open();
  last().message({ type: 'subscribed', channels: ['all'] });
  last().message(event('match:a', 1, 'all', '2026-01-01T00:00:01.000Z'));
  last().message(event('match:b', 1, 'all', '2026-01-01T00:00:02.000Z'));
  last().drop(1006);
  await jest.advanceTimersByTimeAsync(100);

  // Reconnect: resume b (the most recent), since = 02; a ping follows the subscribe.
  last().open();
  expect(last().sent).toEqual([
    { action: 'subscribe', channels: ['all'], resume: { 'match:b': 1 }, since: '2026-01-01T00:00:02.000Z' },
    { action: 'ping' },
  ]);
  last().message({ type: 'subscribed', channels: ['all'] });
  // b's replay brings events up to 00:00:30, then the connection is lost before a's replay.
  for (let seq = 2; seq <= 5; seq++) last().message(event('match:b', seq, 'all', `2026-01-01T00:00:${seq * 6}.000Z`));
  last().drop(1006);
  await jest.advanceTimersByTimeAsync(1000);

  // `since` is still 02, so a's events after 02 (not in resume: maxResume 1) are replayed.
  last().open();
  expect(last().subscribes()).toEqual([
    { action: 'subscribe', channels: ['all'], resume: { 'match:b': 5 }, since: '2026-01-01T00:00:02.000Z' },
  ]);
  last().message({ type: 'subscribed', channels: ['all'] });
  last().message(event('match:b', 5, 'all', '2026-01-01T00:00:30.000Z')); // a duplicate: dropped
  last().message(event('match:a', 2, 'all', '2026-01-01T00:00:03.000Z'));
  last().message({ type: 'pong', timestamp: '2026-01-01T00:00:31.000Z' }); // replay complete
  last().drop(1006);
  await jest.advanceTimersByTimeAsync(1000);

  // The completed replay counts, and so do the timestamps of the cut one: since = 00:00:30.
  last().open();
  expect(last().subscribes()[0]).toMatchObject({ since: '2026-01-01T00:00:30.000Z' });
  expect(seen).toEqual(['match:a@1', 'match:b@1', 'match:b@2', 'match:b@3', 'match:b@4', 'match:b@5', 'match:a@2']);
  expect(client.diagnostics).toMatchObject({ gaps: 0, duplicates: 1 });
  client.close();
});

it('caps resume at maxResume, most recently active streams first', async () => {
  const { client } = makeClient({ maxResume: 2 });
  client.subscribe('all', () => undefined);
  client.connect();
  await flush();
  last().open();
  for (const s of ['a', 'b', 'c']) last().message(event(`match:${s}`, 1));
  last().message(event('match:a', 2));
  last().drop(1011);
  await jest.advanceTimersByTimeAsync(100);
  last().open();
  expect(last().subscribes()[0].resume).toEqual({ 'match:a': 2, 'match:c': 1 });
  client.close();
});

it('keeps every message within maxFrameBytes (the server closes a larger one with 1009): channels split, resume cut least recently active first', async () => {
  const { client } = makeClient({ maxFrameBytes: 1000 });
  const long = (i: number) => `match:${'x'.repeat(50)}-${i}`;
  client.subscribe('all', () => undefined);
  client.connect();
  await flush();
  last().open();
  for (let i = 0; i < 40; i++) last().message(event(long(i), 1));
  last().drop(1011);
  await jest.advanceTimersByTimeAsync(100);
  last().open();
  const [resubscribe] = last().subscribes();
  expect(JSON.stringify(resubscribe).length).toBeLessThanOrEqual(1000);
  const kept = Object.keys(resubscribe.resume);
  expect(kept.length).toBeGreaterThan(5);
  expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => long(39 - i)));
  expect(resubscribe.since).toBeDefined();

  const channels = Array.from({ length: 40 }, (_, i) => long(i));
  for (const channel of channels) client.subscribe(channel, () => undefined);
  await flush();
  const added = last().subscribes().slice(1);
  expect(added.length).toBeGreaterThan(1);
  for (const message of added) expect(JSON.stringify(message).length).toBeLessThanOrEqual(1000);
  expect(added.flatMap((m: { channels: string[] }) => m.channels)).toEqual(channels);
  for (const channel of channels) client.unsubscribe(channel);
  await flush();
  const unsubscribes = last().sent.filter((m: { action: string }) => m.action === 'unsubscribe');
  expect(unsubscribes.length).toBeGreaterThan(1);
  for (const message of unsubscribes) expect(JSON.stringify(message).length).toBeLessThanOrEqual(1000);
  expect(unsubscribes.flatMap((m: { channels: string[] }) => m.channels)).toEqual(channels);
  client.close();
});

it('reconnects at once (under 1 s) after 1012, however many attempts failed before', async () => {
  const { client } = makeClient({ backoff: { baseMs: 10_000, maxMs: 60_000, drainJitterMs: 1000 } });
  client.subscribe('all', () => undefined);
  client.connect();
  await flush();
  last().drop(1006);
  await jest.advanceTimersByTimeAsync(10_000);
  last().drop(1006);
  await jest.advanceTimersByTimeAsync(20_000);
  last().open();
  last().drop(1012);
  const before = FakeSocket.all.length;
  await jest.advanceTimersByTimeAsync(1000);
  expect(FakeSocket.all.length).toBe(before + 1);
  client.close();
});

it('spreads the reconnect after a live connection was lost (1006) over lostJitterMs: a server\'s clients do not all come back at once', async () => {
  const { client } = makeClient({ backoff: { baseMs: 100, maxMs: 1000, lostJitterMs: 2000 } });
  client.subscribe('all', () => undefined);
  client.connect();
  await flush();
  last().open();
  const random = jest.spyOn(Math, 'random').mockReturnValue(0.9);
  try {
    last().drop(1006);
    const before = FakeSocket.all.length;
    await jest.advanceTimersByTimeAsync(1799);
    expect(FakeSocket.all.length).toBe(before); // not within baseMs as a failed attempt would be
    await jest.advanceTimersByTimeAsync(1);
    expect(FakeSocket.all.length).toBe(before + 1);
    // That attempt fails before opening: exponential backoff from attempt 1 (under 2 · baseMs).
    last().drop(1006);
    await jest.advanceTimersByTimeAsync(180);
    expect(FakeSocket.all.length).toBe(before + 2);
  } finally {
    random.mockRestore();
  }
  client.close();
});

it('rotates through several URLs, one per reconnect', async () => {
  const { client } = makeClient({ url: ['ws://a/ws', 'ws://b/ws'] });
  client.connect();
  await flush();
  expect(last().url).toBe('ws://a/ws');
  last().drop(1012);
  await jest.advanceTimersByTimeAsync(1000);
  expect(last().url).toBe('ws://b/ws');
  client.close();
});

it('does not retry a forbidden connection (HTTP 403 / 4003): offline with the error', async () => {
  for (const refuse of [(s: FakeSocket) => s.refuse(403), (s: FakeSocket) => s.drop(4003)]) {
    FakeSocket.all = [];
    const { client, errors } = makeClient();
    client.connect();
    await flush();
    refuse(last());
    expect(client.state).toBe('offline');
    expect(errors.at(-1)).toMatchObject({ fatal: true });
    await jest.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.all).toHaveLength(1);
    expect(jest.getTimerCount()).toBe(0);
  }
});

describe('token', () => {
  it('passes the token as ?token= and asks the provider on every connect', async () => {
    let n = 0;
    const token = jest.fn(() => jwt('u1', Date.now() + 3_600_000, n++));
    const { client } = makeClient({ token });
    client.connect();
    await flush();
    expect(new URL(last().url).searchParams.get('token')).toBe(jwt('u1', Date.now() + 3_600_000, 0));
    last().drop(1006);
    await jest.advanceTimersByTimeAsync(100);
    expect(token).toHaveBeenCalledTimes(2);
    client.close();
  });

  it('on 401 / 4001 retries only with a different token; the same token → offline', async () => {
    const fixed = jwt('u1', Date.now() + 60_000);
    const { client, errors } = makeClient({ token: () => fixed });
    client.connect();
    await flush();
    last().open();
    last().drop(4001);
    await flush();
    expect(client.state).toBe('offline');
    expect(errors.at(-1)).toMatchObject({ code: 'TOKEN_EXPIRED', fatal: true, closeCode: 4001 });
    await jest.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.all).toHaveLength(1);
  });

  it('on 401 with a new token from the provider, reconnects with it', async () => {
    let n = 0;
    const token = jest.fn(() => jwt('u1', Date.now() + 60_000, n++));
    const { client } = makeClient({ token });
    client.connect();
    await flush();
    last().refuse(401);
    await jest.advanceTimersByTimeAsync(100);
    expect(token).toHaveBeenCalledTimes(2); // once for the attempt, once after the 401; not again
    expect(FakeSocket.all).toHaveLength(2);
    expect(new URL(last().url).searchParams.get('token')).toBe(jwt('u1', Date.now() - 100 + 60_000, 1));
    client.close();
  });

  it('a provider that throws after a 401 → offline with TOKEN_PROVIDER_FAILED', async () => {
    let calls = 0;
    const { client, errors } = makeClient({
      token: () => {
        if (calls++ > 0) throw new Error('signed out');
        return jwt('u1', Date.now() + 60_000);
      },
    });
    client.connect();
    await flush();
    last().refuse(401);
    await flush();
    expect(client.state).toBe('offline');
    expect(errors.at(-1)).toMatchObject({ code: 'TOKEN_PROVIDER_FAILED', fatal: true, httpStatus: 401 });
  });

  it('refreshes before expiry over the open connection and reschedules on `refreshed`', async () => {
    let n = 0;
    const token = jest.fn(() => jwt('u1', Date.now() + 60_000, n++));
    const { client } = makeClient({ token, refreshLeadMs: 10_000 });
    client.subscribe('all', () => undefined);
    client.connect();
    await flush();
    const socket = last();
    socket.open();
    socket.message({ type: 'subscribed', channels: ['all'] });
    await jest.advanceTimersByTimeAsync(49_999);
    expect(socket.sent.filter((m) => m.action === 'refresh')).toHaveLength(0);
    await jest.advanceTimersByTimeAsync(1);
    const refreshes = () => socket.sent.filter((m) => m.action === 'refresh');
    expect(refreshes()).toHaveLength(1);
    const expiresAt = new Date(Date.now() + 60_000).toISOString();
    socket.message({ type: 'refreshed', expires_at: expiresAt });
    await jest.advanceTimersByTimeAsync(49_999);
    expect(refreshes()).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(refreshes()).toHaveLength(2);
    expect(FakeSocket.all).toHaveLength(1);
    expect(socket.closedWith).toBeUndefined();
    client.close();
  });
});

describe('RESUME_TOO_OLD', () => {
  it('holds the stream, calls onReset, continues from the seqs it returns: no gap, no duplicate', async () => {
    let finish!: (positions: Record<string, number>) => void;
    const onReset = jest.fn(() => new Promise<Record<string, number>>((resolve) => (finish = resolve)));
    const { client, errors } = makeClient({ onReset });
    const seen: string[] = [];
    client.subscribe('all', (e) => seen.push(`${e.stream}@${e.seq}`));
    client.connect();
    await flush();
    last().open();
    last().message(event('match:a', 3));
    last().message({ type: 'error', code: 'RESUME_TOO_OLD', message: 'reload', stream: 'match:a' });
    expect(onReset).toHaveBeenCalledWith('match:a');
    expect(errors.at(-1)).toMatchObject({ code: 'RESUME_TOO_OLD', stream: 'match:a' });
    for (const seq of [9, 10, 11]) last().message(event('match:a', seq));
    last().message(event('match:b', 1));
    expect(seen).toEqual(['match:a@3', 'match:b@1']);
    finish({ 'match:a': 10 });
    await flush();
    expect(seen).toEqual(['match:a@3', 'match:b@1', 'match:a@11']);
    last().message(event('match:a', 12));
    expect(seen.at(-1)).toBe('match:a@12');
    expect(client.diagnostics).toMatchObject({ gaps: 0, resets: 1 });
    client.close();
  });

  it('a reset handler that never answers (a snapshot fetch that hangs) does not freeze the stream: after RESET_TIMEOUT_MS it is RESET_FAILED and the held events go on', async () => {
    const { client, errors } = makeClient({ onReset: () => new Promise(() => undefined) });
    const seen: number[] = [];
    client.subscribe('all', (e) => seen.push(e.seq));
    client.connect();
    await flush();
    last().open();
    last().message(event('match:a', 3));
    last().message({ type: 'error', code: 'RESUME_TOO_OLD', message: 'reload', stream: 'match:a' });
    for (const seq of [41, 42]) last().message(event('match:a', seq));
    await jest.advanceTimersByTimeAsync(RESET_TIMEOUT_MS - 1);
    expect(seen).toEqual([3]);
    await jest.advanceTimersByTimeAsync(1);
    expect(seen).toEqual([3, 41, 42]);
    expect(errors.map((e) => e.code)).toEqual(['RESUME_TOO_OLD', 'RESET_FAILED']);
    last().message(event('match:a', 43));
    expect(seen).toEqual([3, 41, 42, 43]);
    client.close();
  });

  it('without positions from onReset, the stream restarts at its next event', async () => {
    const { client } = makeClient();
    const seen: number[] = [];
    client.subscribe('all', (e) => seen.push(e.seq));
    client.connect();
    await flush();
    last().open();
    last().message(event('match:a', 3));
    last().message({ type: 'error', code: 'RESUME_TOO_OLD', message: 'reload', stream: 'match:a' });
    await flush();
    last().message(event('match:a', 40));
    expect(seen).toEqual([3, 40]);
    expect(client.diagnostics.gaps).toBe(0);
    client.close();
  });
});

it('a refused reconnect subscription goes offline; a refused added channel is dropped', async () => {
  const { client, errors } = makeClient();
  client.subscribe('all', () => undefined);
  client.connect();
  await flush();
  last().open();
  last().message({ type: 'subscribed', channels: ['all'] });
  client.subscribe('user:bob', () => undefined);
  await flush();
  expect(last().sent.at(-1)).toEqual({ action: 'subscribe', channels: ['user:bob'] });
  last().message({ type: 'error', code: 'FORBIDDEN_CHANNEL', message: 'no' });
  expect(client.channels).toEqual(['all']);
  expect(errors.at(-1)).toMatchObject({ code: 'FORBIDDEN_CHANNEL', channels: ['user:bob'] });
  expect(client.state).toBe('live');
  last().drop(1006);
  await jest.advanceTimersByTimeAsync(100);
  last().open();
  last().message({ type: 'error', code: 'TOO_MANY_CHANNELS', message: 'no' });
  expect(client.state).toBe('offline');
  expect(errors.at(-1)).toMatchObject({ code: 'TOO_MANY_CHANNELS', fatal: true });
});

it('reports channels a refreshed token no longer grants, but not its own unsubscribes', async () => {
  const { client, errors } = makeClient();
  client.subscribe('all', () => undefined);
  client.subscribe('user:u1', () => undefined);
  client.connect();
  await flush();
  last().open();
  client.unsubscribe('all');
  last().message({ type: 'unsubscribed', channels: ['all'] });
  expect(errors).toHaveLength(0);
  last().message({ type: 'unsubscribed', channels: ['user:u1'] });
  expect(errors.at(-1)).toMatchObject({ code: 'FORBIDDEN_CHANNEL', channel: 'user:u1' });
  expect(client.channels).toEqual([]);
  client.close();
});

it('a FORBIDDEN_CHANNEL naming a channel (a grant withdrawn) drops that channel only, even with a subscribe pending, and a reconnect does not ask for it again', async () => {
  const { client, errors } = makeClient();
  client.subscribe('all', () => undefined);
  client.subscribe('match:c1', () => undefined);
  client.connect();
  await flush();
  last().open();
  last().message({ type: 'subscribed', channels: ['all', 'match:c1'] });
  client.subscribe('league:epl', () => undefined);
  last().message({ type: 'error', code: 'FORBIDDEN_CHANNEL', message: 'no longer granted', channel: 'match:c1' });
  expect(errors.at(-1)).toMatchObject({ code: 'FORBIDDEN_CHANNEL', channel: 'match:c1', channels: ['match:c1'] });
  last().message({ type: 'subscribed', channels: ['league:epl'] });
  expect(client.channels.sort()).toEqual(['all', 'league:epl']);
  expect(client.state).toBe('live');
  last().drop(1006);
  await jest.advanceTimersByTimeAsync(100);
  last().open();
  const resubscribe = last().sent.find((m: any) => m.action === 'subscribe');
  expect(resubscribe.channels.sort()).toEqual(['all', 'league:epl']);
  client.close();
});

it('sends the channel changes of one task together: one subscribe, one unsubscribe, in that order of effect', async () => {
  const { client } = makeClient();
  client.subscribe('all', () => undefined);
  client.subscribe('match:kept', () => undefined);
  client.connect();
  await flush();
  last().open();
  last().message({ type: 'subscribed', channels: ['all', 'match:kept'] });
  const before = last().sent.length;
  for (let i = 0; i < 50; i++) client.subscribe(`match:m${i}`, () => undefined);
  const stop = client.subscribe('match:brief', () => undefined);
  stop(); // never sent: nothing to unsubscribe
  client.unsubscribe('match:kept');
  client.subscribe('match:kept', () => undefined); // unsubscribed, then subscribed again
  client.unsubscribe('all');
  await flush();
  expect(last().sent.slice(before)).toEqual([
    { action: 'unsubscribe', channels: ['match:kept', 'all'] },
    { action: 'subscribe', channels: [...Array.from({ length: 50 }, (_, i) => `match:m${i}`), 'match:kept'] },
  ]);
  client.close();
});

it('abandons an attempt not live within connectTimeoutMs (no answer to the handshake, or to the subscribe) and retries with backoff', async () => {
  const { client } = makeClient({ connectTimeoutMs: 5000 });
  client.subscribe('all', () => undefined);
  client.connect();
  await flush();
  await jest.advanceTimersByTimeAsync(4999);
  expect(FakeSocket.all).toHaveLength(1);
  await jest.advanceTimersByTimeAsync(1);
  expect(FakeSocket.all[0]!.closedWith).toBeDefined();
  await jest.advanceTimersByTimeAsync(100); // backoff from attempt 0: under baseMs
  expect(FakeSocket.all).toHaveLength(2);
  last().open(); // the upgrade, then silence: no `subscribed`
  await jest.advanceTimersByTimeAsync(5000);
  expect(FakeSocket.all[1]!.closedWith).toBeDefined();
  await jest.advanceTimersByTimeAsync(200);
  expect(FakeSocket.all).toHaveLength(3);
  last().open();
  last().message({ type: 'subscribed', channels: ['all'] });
  await jest.advanceTimersByTimeAsync(60_000);
  expect(FakeSocket.all).toHaveLength(3); // live: no deadline any more
  expect(client.state).toBe('live');
  client.close();
});

it('a token provider that never answers: the attempt is abandoned after connectTimeoutMs, reported, and retried', async () => {
  let calls = 0;
  const { client, errors } = makeClient({ connectTimeoutMs: 5000, token: () => (++calls === 1 ? new Promise<string>(() => undefined) : 'tok') });
  client.subscribe('all', () => undefined);
  client.connect();
  await jest.advanceTimersByTimeAsync(5000);
  expect(errors.map((e) => e.code)).toEqual(['TOKEN_PROVIDER_FAILED']);
  await jest.advanceTimersByTimeAsync(100);
  expect(calls).toBe(2);
  expect(FakeSocket.all).toHaveLength(1);
  expect(last().url).toContain('token=tok');
  client.close();
});

it('a token provider that never answers after a 401: abandoned after connectTimeoutMs too, reported, and asked again', async () => {
  let calls = 0;
  const { client, errors } = makeClient({ connectTimeoutMs: 5000, token: () => (++calls === 2 ? new Promise<string>(() => undefined) : `tok${calls}`) });
  client.subscribe('all', () => undefined);
  client.connect();
  await flush();
  last().refuse(401);
  await jest.advanceTimersByTimeAsync(5000);
  expect(errors.map((e) => e.code)).toEqual(['TOKEN_PROVIDER_FAILED']);
  await jest.advanceTimersByTimeAsync(1000);
  expect(calls).toBe(3);
  expect(FakeSocket.all).toHaveLength(2);
  expect(last().url).toContain('token=tok3');
  client.close();
});

it('rejects malformed channel names at once', () => {
  const { client } = makeClient();
  expect(() => client.subscribe('match:a b', () => undefined)).toThrow(TypeError);
  expect(() => client.subscribe('bogus', () => undefined)).toThrow(TypeError);
});

it('drops a silent connection after two ping intervals', async () => {
  const { client } = makeClient({ pingIntervalMs: 1000 });
  client.connect();
  await flush();
  last().open();
  await jest.advanceTimersByTimeAsync(1000);
  expect(last().sent).toContainEqual({ action: 'ping' });
  await jest.advanceTimersByTimeAsync(1000);
  expect(FakeSocket.all[0]!.closedWith).toBeDefined();
  expect(client.state).toBe('reconnecting');
  await jest.advanceTimersByTimeAsync(100);
  expect(FakeSocket.all).toHaveLength(2);
  client.close();
});

it('close() stops everything, clears every timer and is safe twice', async () => {
  const { client, states } = makeClient({ token: () => jwt('u1', Date.now() + 60_000), pingIntervalMs: 1000 });
  client.subscribe('all', () => undefined);
  client.connect();
  await flush();
  last().open();
  last().message({ type: 'subscribed', channels: ['all'] });
  expect(jest.getTimerCount()).toBeGreaterThan(0);
  client.close();
  client.close();
  expect(jest.getTimerCount()).toBe(0);
  expect(last().closedWith).toBe(1000);
  expect(states.at(-1)).toBe('offline');
  last().drop(1012);
  await jest.advanceTimersByTimeAsync(60_000);
  expect(FakeSocket.all).toHaveLength(1);
  expect(() => client.connect()).toThrow();
});

it('close() during a pending backoff cancels the retry', async () => {
  const { client } = makeClient();
  client.connect();
  await flush();
  last().drop(1006);
  client.close();
  expect(jest.getTimerCount()).toBe(0);
  await jest.advanceTimersByTimeAsync(60_000);
  expect(FakeSocket.all).toHaveLength(1);
});
