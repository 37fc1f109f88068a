/**
 * The announcements store against a scripted WebSocket and a scripted REST API: the list's
 * stream_seq seeds the target's stream; publish, edit and expiry apply once each, in order, most
 * urgent first; when the channel's other handlers got events before this store subscribed, the
 * list is read again; an announcement past expires_at is dropped locally; RESUME_TOO_OLD reloads.
 */
import { createAnnouncements, type Announcements } from '../../src/announcements';
import { MatchcastClient } from '../../src/client';
import type { AnnouncementData } from '../../src/wire';
import { FakeSocket } from './fake-socket';

const STREAM = 'league:epl';
const flush = () => new Promise((resolve) => setImmediate(resolve));
const last = () => FakeSocket.all[FakeSocket.all.length - 1]!;

function announcement(id: string, priority: AnnouncementData['priority'], extra: Partial<AnnouncementData> = {}): AnnouncementData {
  return {
    id, title: `t${id}`, message: 'm', type: 'general', priority, target: 'league', target_id: 'epl', starts_at: null, expires_at: null,
    created_by: 'root', state: 'published', created_at: `2026-01-01T00:00:0${id}.000Z`, updated_at: `2026-01-01T00:00:0${id}.000Z`, ...extra,
  };
}
function event(type: string, seq: number, data: AnnouncementData, stream = STREAM) {
  return { type, match_id: null, data, timestamp: '2026-01-01T00:00:00.000Z', channel: stream, stream, seq, id: `o${seq}` };
}
const shown = (store: Announcements) => store.items.map((a) => `${a.id}${a.priority[0]}:${a.title}`).join(' ');

let client: MatchcastClient;
let store: Announcements;
let lists: { announcements: AnnouncementData[]; stream: string; stream_seq: number }[];
let requests: string[];
const fetchImpl = async (input: string | URL | Request): Promise<Response> => {
  requests.push(String(input));
  return new Response(JSON.stringify(lists.length > 1 ? lists.shift() : lists[0]), { status: 200 });
};

beforeEach(() => {
  FakeSocket.all = [];
  requests = [];
  lists = [{ announcements: [announcement('1', 'normal')], stream: STREAM, stream_seq: 3 }];
  client = new MatchcastClient({ url: 'ws://gw/ws', WebSocket: FakeSocket, pingIntervalMs: 0, backoff: { baseMs: 10, maxMs: 20, lostJitterMs: 10 } });
});
afterEach(() => {
  store?.close();
  client.close();
});

async function connect(channels: string[]) {
  client.connect();
  await flush();
  last().open();
  last().message({ type: 'subscribed', channels });
}

it('loads the list and subscribes the target stream from its stream_seq; applies publish, edit and expiry once, most urgent first', async () => {
  store = createAnnouncements(client, { baseUrl: 'http://app.test/', target: 'league', targetId: 'epl', fetch: fetchImpl });
  await store.ready;
  await connect([STREAM]);
  expect(requests).toEqual(['http://app.test/api/announcements?target=league&target_id=epl']);
  expect(last().subscribes()).toEqual([{ action: 'subscribe', channels: [STREAM], resume: { [STREAM]: 3 } }]);
  const changes: number[] = [];
  store.on('change', (change) => changes.push(change.event!.seq));
  last().message(event('announcement', 3, announcement('9', 'urgent'))); // at the list's seq: in it already
  last().message(event('announcement', 4, announcement('2', 'urgent')));
  last().message(event('announcement_updated', 5, announcement('1', 'high', { title: 'edited' })));
  last().message(event('announcement_updated', 5, announcement('1', 'low'))); // a duplicate
  last().message({ type: 'league_table', match_id: null, data: {}, timestamp: 't', channel: STREAM, stream: STREAM, seq: 6, id: 'x' });
  last().message(event('announcement_expired', 7, announcement('2', 'urgent', { state: 'expired' })));
  expect(changes).toEqual([4, 5, 7]);
  expect([shown(store), store.seq]).toEqual(['1h:edited', 7]);
});

it('everyone: GET target=everyone and the all stream', async () => {
  lists = [{ announcements: [], stream: 'all', stream_seq: 0 }];
  store = createAnnouncements(client, { baseUrl: 'http://app.test', target: 'everyone', fetch: fetchImpl });
  await store.ready;
  expect([requests, store.stream]).toEqual([['http://app.test/api/announcements?target=everyone'], 'all']);
});

it('reads the list again when the channel already delivered newer events to another handler', async () => {
  await connect(['league:epl']);
  client.subscribe(STREAM, () => undefined);
  last().message(event('announcement', 3, announcement('1', 'normal')));
  last().message(event('announcement', 4, announcement('2', 'high'))); // before the store's handler exists
  lists = [lists[0]!, { announcements: [announcement('2', 'high'), announcement('1', 'normal')], stream: STREAM, stream_seq: 4 }];
  store = createAnnouncements(client, { baseUrl: 'http://app.test', target: 'league', targetId: 'epl', fetch: fetchImpl });
  await store.ready;
  expect(requests).toHaveLength(2);
  expect([shown(store), store.seq]).toEqual(['2h:t2 1n:t1', 4]);
});

it('drops an announcement locally once its expires_at passes', async () => {
  lists = [{ announcements: [announcement('1', 'normal', { expires_at: new Date(Date.now() + 100).toISOString() }), announcement('2', 'low')], stream: STREAM, stream_seq: 3 }];
  store = createAnnouncements(client, { baseUrl: 'http://app.test', target: 'league', targetId: 'epl', fetch: fetchImpl });
  await store.ready;
  expect(shown(store)).toBe('1n:t1 2l:t2');
  await new Promise((resolve) => setTimeout(resolve, 250));
  expect(shown(store)).toBe('2l:t2');
});

it('reloads the list on RESUME_TOO_OLD', async () => {
  store = createAnnouncements(client, { baseUrl: 'http://app.test', target: 'league', targetId: 'epl', fetch: fetchImpl });
  await store.ready;
  await connect([STREAM]);
  lists = [{ announcements: [announcement('5', 'urgent')], stream: STREAM, stream_seq: 40 }];
  last().message({ type: 'error', code: 'RESUME_TOO_OLD', message: 'gone', stream: STREAM });
  await flush();
  await flush();
  expect([shown(store), store.seq, client.position(STREAM)]).toEqual(['5u:t5', 40, 40]);
});

it("a match's, taken from another channel (its league's): only the match stream's announcement events", async () => {
  lists = [{ announcements: [], stream: 'match:m1', stream_seq: 2 }];
  store = createAnnouncements(client, { baseUrl: 'http://app.test', target: 'match', targetId: 'm1', channel: STREAM, fetch: fetchImpl });
  await store.ready;
  await connect([STREAM]);
  expect(requests).toEqual(['http://app.test/api/announcements?target=match&target_id=m1']);
  expect(last().subscribes()).toEqual([{ action: 'subscribe', channels: [STREAM], resume: { 'match:m1': 2 } }]);
  last().message(event('announcement', 5, announcement('3', 'high'))); // the league's own
  last().message({ ...event('announcement', 3, announcement('4', 'low', { target: 'match', target_id: 'm1' }), 'match:m1'), channel: STREAM });
  expect([shown(store), store.seq]).toEqual(['4l:t4', 3]);
});

it('ignores an announcement event whose data is not an announcement: the store keeps working', async () => {
  store = createAnnouncements(client, { baseUrl: 'http://app.test/', target: 'league', targetId: 'epl', fetch: fetchImpl });
  await store.ready;
  await connect([STREAM]);
  const thrown: unknown[] = [];
  const onError = (error: unknown) => thrown.push(error);
  process.on('uncaughtException', onError);
  try {
    last().message(event('announcement', 4, { id: 'x' } as unknown as AnnouncementData));
    last().message(event('announcement', 5, { title: 'no id' } as unknown as AnnouncementData));
    last().message(event('announcement', 6, announcement('2', 'urgent')));
    await new Promise((resolve) => setTimeout(resolve, 20));
  } finally {
    process.off('uncaughtException', onError);
  }
  expect(thrown).toEqual([]);
  expect(shown(store)).toBe('2u:t2 1n:t1');
});

it('holds at most `limit` (default 100, as the API lists at most): live announcements past it push the least urgent, oldest out', async () => {
  store = createAnnouncements(client, { baseUrl: 'http://app.test', target: 'league', targetId: 'epl', fetch: fetchImpl });
  await store.ready;
  await connect([STREAM]);
  for (let seq = 4; seq < 4 + 150; seq++) last().message(event('announcement', seq, announcement(String(seq), 'low', { created_at: `2026-01-02T00:00:00.${String(seq).padStart(3, '0')}Z` })));
  expect(store.items).toHaveLength(100);
  expect(store.items[0]!.id).toBe('1'); // normal before low
  expect(store.items.at(-1)!.id).toBe('55'); // the 99 newest low ones
  last().message(event('announcement', 200, announcement('99x', 'urgent')));
  expect(store.items).toHaveLength(100);
  expect([store.items[0]!.id, store.items.at(-1)!.id]).toEqual(['99x', '56']);
});

it('`limit` is sent as the list size, and must be 1 to 100', async () => {
  store = createAnnouncements(client, { baseUrl: 'http://app.test', target: 'league', targetId: 'epl', limit: 1, fetch: fetchImpl });
  await store.ready;
  await connect([STREAM]);
  expect(requests).toEqual(['http://app.test/api/announcements?target=league&target_id=epl&limit=1']);
  last().message(event('announcement', 4, announcement('2', 'urgent')));
  expect(shown(store)).toBe('2u:t2');
  for (const limit of [0, 101, 1.5, NaN]) expect(() => createAnnouncements(client, { baseUrl: 'http://app.test', target: 'everyone', limit, fetch: fetchImpl })).toThrow(/`limit` must be an integer from 1 to 100/);
});

it('a reload that fails (RESUME_TOO_OLD, the API answering 503) leaves the store applying events: those that came meanwhile, and every later one', async () => {
  let answer: (response: Response) => void = () => undefined;
  let calls = 0;
  const flaky = async (): Promise<Response> => (++calls === 1 ? new Response(JSON.stringify(lists[0]), { status: 200 }) : new Promise<Response>((resolve) => (answer = resolve)));
  store = createAnnouncements(client, { baseUrl: 'http://app.test', target: 'league', targetId: 'epl', fetch: flaky });
  await store.ready;
  await connect([STREAM]);
  last().message({ type: 'error', code: 'RESUME_TOO_OLD', message: 'gone', stream: STREAM });
  await flush();
  last().message(event('announcement', 4, announcement('2', 'high'))); // while the reload runs: held by the client
  answer(new Response(JSON.stringify({ error: 'UNAVAILABLE' }), { status: 503 }));
  await flush();
  await flush();
  expect(shown(store)).toBe('2h:t2 1n:t1');
  last().message(event('announcement', 5, announcement('3', 'urgent')));
  expect([shown(store), store.seq]).toEqual(['3u:t3 2h:t2 1n:t1', 5]);
});
