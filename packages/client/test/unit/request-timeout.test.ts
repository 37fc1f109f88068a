/**
 * The stores' REST requests (league table, announcements, notifications) are given up after
 * `timeoutMs` (default 20 s): a request never answered left `ready` (and the app's retry) waiting
 * for ever. The API here accepts every request and never answers, as a hung proxy does.
 */
import { createAnnouncements } from '../../src/announcements';
import { MatchcastClient } from '../../src/client';
import { createLeagueTable } from '../../src/league-table';
import { createNotifications } from '../../src/notifications';
import { FakeSocket } from './fake-socket';

let client: MatchcastClient;
const signals: (AbortSignal | null | undefined)[] = [];
/** Never answers; gives up only when the request's signal says so, as the real fetch does. */
const hung = (_input: string | URL | Request, init?: RequestInit): Promise<Response> => {
  signals.push(init?.signal);
  return new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)));
};
const stores = {
  createLeagueTable: (timeoutMs?: number) => createLeagueTable(client, { baseUrl: 'http://app.test', leagueId: 'epl', fetch: hung, timeoutMs }),
  createAnnouncements: (timeoutMs?: number) => createAnnouncements(client, { baseUrl: 'http://app.test', target: 'everyone', fetch: hung, timeoutMs }),
  createNotifications: (timeoutMs?: number) => createNotifications(client, { baseUrl: 'http://app.test', userId: 'alice', token: () => 't', fetch: hung, timeoutMs }),
};

beforeEach(() => {
  FakeSocket.all = [];
  signals.length = 0;
  client = new MatchcastClient({ url: 'ws://gw/ws', WebSocket: FakeSocket, pingIntervalMs: 0 });
});
afterEach(() => client.close());

describe.each(Object.entries(stores))('%s', (name, create) => {
  it('rejects `ready` with a TimeoutError once a request is not answered within timeoutMs', async () => {
    const store = create(100);
    const started = Date.now();
    await expect(store.ready).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(Date.now() - started).toBeLessThan(5000);
    store.close();
  });

  it('gives every request a deadline by default, and refuses a timeoutMs that is not a number above 0', async () => {
    const store = create();
    store.ready.catch(() => undefined);
    await new Promise((resolve) => setImmediate(resolve)); // the token provider is asked first
    expect(signals).toHaveLength(1);
    expect(signals[0]).toBeInstanceOf(AbortSignal);
    store.close();
    for (const bad of [0, -5, NaN, Infinity]) expect(() => create(bad)).toThrow(new RegExp(`${name}: \`timeoutMs\` must be a number of milliseconds above 0`));
  });
});
