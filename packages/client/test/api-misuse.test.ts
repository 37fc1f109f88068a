/**
 * The client's API used the way apps do, against a real gateway (PG-LISTEN mode): many
 * subscribes in a row while connected (a follow list of 60 matches), then unsubscribes.
 * Each channel must be subscribed on the server (its events reach its handler), without the
 * client tripping the gateway's per-connection message rate (WS_MESSAGES_PER_SECOND, burst 2×),
 * whether the app makes its changes in one task or in many.
 */
import type { MatchcastClient } from '../src/client';
import type { MatchcastError } from '../src/types';
import type { DeliveredMessage } from '../src/wire';
import { GatewayProcess, Infra, ServiceProcess, freePort, goal, maxOutboxId, recordingClient, seedMatches, sleep, waitFor, waitForState } from './support';

describe('MatchcastClient API misuse against a real gateway', () => {
  const infra = new Infra();
  const processes: ServiceProcess[] = [];
  let gateway: GatewayProcess;

  beforeAll(async () => {
    await infra.start(false);
    gateway = new GatewayProcess(await freePort(), await freePort(), { DATABASE_URL: infra.postgres.url }, 'client-gateway-misuse');
    processes.push(gateway.start());
    await gateway.ready();
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await infra.destroy();
  });

  /** A client on the gateway that records its errors, subscribed to `all` (events to `onAll`) and live. */
  async function liveOnAll(onAll: (event: DeliveredMessage) => unknown = () => undefined, options: { connectTimeoutMs?: number } = {}) {
    const { client, serverSubscribed } = recordingClient({ url: gateway.wsUrl, pingIntervalMs: 0, ...options });
    const errors: MatchcastError[] = [];
    client.on('error', (e) => errors.push(e));
    client.subscribe('all', (e) => void onAll(e));
    client.connect();
    await waitForState(client, 'live');
    /** Until the server has answered `subscribed` for every one of `matches`' channels (not a fixed time: a loaded machine is slower). */
    const subscribedOnServer = (matches: string[]) =>
      waitFor('every match channel subscribed on the server', async () => (matches.every((id) => serverSubscribed.has(`match:${id}`)) ? true : undefined), 15_000);
    return { client, errors, subscribedOnServer };
  }

  /** Still in step after what went before: the next refusal (a channel it may not see) names its own subscribe. */
  async function expectStillInStep(client: MatchcastClient, errors: MatchcastError[]) {
    client.subscribe('user:bob', () => undefined);
    await waitFor('the refusal', async () => (errors.length > 0 ? true : undefined), 10_000);
    expect(errors.map((e) => [e.code, e.channels])).toEqual([['FORBIDDEN_CHANNEL', ['user:bob']]]);
    expect(client.state).toBe('live');
  }

  it('60 subscribes in a row while live: every channel is subscribed, none rate-limited; 60 unsubscribes leave only `all`', async () => {
    const matches = await seedMatches(infra.db, 'mis', 60);
    const onAll: DeliveredMessage[] = [];
    const { client, errors, subscribedOnServer } = await liveOnAll((e) => onAll.push(e));

    let before: bigint | undefined;
    const ours = (e: DeliveredMessage) => before !== undefined && BigInt(e.id) > before;
    const perChannel = new Map<string, number>();
    const stops = matches.map((id) => client.subscribe(`match:${id}`, (e) => ours(e) && perChannel.set(id, (perChannel.get(id) ?? 0) + 1)));
    // A goal before its channel is subscribed goes to `all`, and the test would fail for the machine's speed.
    await subscribedOnServer(matches);
    // Only the goals count: the seeding's own events may still be arriving on `all`.
    before = BigInt(await maxOutboxId(infra.db));
    for (const id of matches) await goal(infra.db, id);
    await waitFor('an event for every match', async () => (perChannel.size + new Set(onAll.filter(ours).map((e) => e.match_id)).size >= matches.length ? true : undefined), 15_000);
    await sleep(300);
    expect(errors.map((e) => e.code)).toEqual([]);
    // Each event on its match's channel (the most specific one), none left to `all`.
    expect(onAll.filter((e) => ours(e) && matches.includes(e.match_id!))).toEqual([]);
    expect(perChannel.size).toBe(matches.length);

    for (const stop of stops) stop();
    await sleep(500);
    onAll.length = 0;
    for (const id of matches.slice(0, 5)) await goal(infra.db, id);
    await waitFor('the events on `all` again', async () => (onAll.length >= 5 ? true : undefined), 15_000);
    expect(errors.map((e) => e.code)).toEqual([]);
    expect(client.channels).toEqual(['all']);
    expect(client.state).toBe('live');
    client.close();
  });

  it('60 subscribes each in a task of its own (a list rendered item by item) keep within the message rate: every channel gets its events, and later answers stay in step', async () => {
    const matches = await seedMatches(infra.db, 'tsk', 60);
    const { client, errors, subscribedOnServer } = await liveOnAll();

    let before: bigint | undefined;
    const got = new Set<string>();
    for (const id of matches) {
      client.subscribe(`match:${id}`, (e) => before !== undefined && BigInt(e.id) > before && got.add(id));
      await new Promise((resolve) => setTimeout(resolve, 0)); // one frame each: past the server's burst, it refused frames with RATE_LIMITED naming nothing
    }
    await subscribedOnServer(matches);
    before = BigInt(await maxOutboxId(infra.db));
    for (const id of matches) await goal(infra.db, id);
    await waitFor('an event on every match channel', async () => (got.size === matches.length ? true : undefined), 15_000);
    expect(errors.map((e) => e.code)).toEqual([]);
    await expectStillInStep(client, errors);
    client.close();
  });

  it('one channel it may not see among many subscribed in one task costs only that channel', async () => {
    const matches = await seedMatches(infra.db, 'mix', 6);
    const { client, errors } = await liveOnAll();

    const got = new Set<string>();
    for (const id of matches.slice(0, 3)) client.subscribe(`match:${id}`, () => got.add(id));
    client.subscribe('user:bob', () => undefined); // anonymous: not its stream
    for (const id of matches.slice(3)) client.subscribe(`match:${id}`, () => got.add(id));
    await waitFor('the refusal', async () => (errors.length > 0 ? true : undefined), 10_000);
    await sleep(300);
    expect(errors.map((e) => [e.code, e.channels])).toEqual([['FORBIDDEN_CHANNEL', ['user:bob']]]);
    expect(client.channels.sort()).toEqual(['all', ...matches.map((id) => `match:${id}`)].sort());
    for (const id of matches) await goal(infra.db, id);
    await waitFor('an event on every match channel', async () => (got.size === matches.length ? true : undefined), 15_000);
    expect(client.state).toBe('live');
    client.close();
  });

  it('subscribes refused for now (RATE_LIMITED past the read budget) are asked for again: every channel gets its events, and later answers stay in step', async () => {
    const { client, errors } = await liveOnAll();

    // Matches the database does not have yet (a fixture list ahead of the crawler): a subscribe
    // naming one reads, and a connection may send 10 such at once, then one a second.
    const ids = Array.from({ length: 13 }, (_, i) => `late-m${i + 1}`);
    const got = new Set<string>();
    for (const id of ids) {
      client.subscribe(`match:${id}`, () => got.add(id));
      await sleep(5); // a task each: one subscribe message each
    }
    expect(await seedMatches(infra.db, 'late', ids.length)).toEqual(ids);
    // The matches go on: a goal on each that has not reached its channel yet, every half second.
    await waitFor(
      'an event on every match channel',
      async () => {
        for (const id of ids) if (!got.has(id)) await goal(infra.db, id);
        return got.size === ids.length ? true : undefined;
      },
      15_000,
      500,
    );
    expect(errors.map((e) => e.code)).toEqual([]);
    await expectStillInStep(client, errors);
    client.close();
  });

  it('over SSE, 100 channels and 99 streams to resume with 64-character ids fit one URL: the stream opens (it was refused with 431 on every attempt, unreported)', async () => {
    const prefix = 'p'.repeat(60);
    const matches = await seedMatches(infra.db, prefix, 99);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const EventSource = require('eventsource');
    const { client } = recordingClient({ url: gateway.wsUrl, EventSource, transports: ['sse'], connectTimeoutMs: 3000 });
    const errors: MatchcastError[] = [];
    client.on('error', (e) => errors.push(e));
    const { rows } = await infra.db.query<{ stream: string; seq: string }>(`SELECT stream, max(seq)::text AS seq FROM outbox WHERE stream LIKE $1 GROUP BY stream`, [`match:${prefix}%`]);
    const seqs = new Map(rows.map((row) => [row.stream, Number(row.seq)]));
    client.seed(Object.fromEntries(matches.map((id) => [`match:${id}`, seqs.get(`match:${id}`) ?? 0])));
    const got = new Set<string>();
    // Topic channels (an app showing each match's announcements), and one match's own channel for its goal.
    for (const id of matches) client.subscribe(`match:${id}/announcements`, () => undefined);
    client.subscribe(`match:${matches[0]}`, () => got.add(matches[0]!));
    client.connect();
    await waitForState(client, 'live');
    await goal(infra.db, matches[0]!);
    await waitFor('the goal', async () => (got.has(matches[0]!) ? true : undefined), 10_000);
    expect(errors).toEqual([]);
    client.close();
  });

  // Last: it restarts the gateway.
  it('100 streams with long ids to resume (a snapshot of matches with UUID ids) fit the server\'s frame size: the reconnect is not refused with 1009 for ever', async () => {
    const matches = await seedMatches(infra.db, '0f8fad5b-d9cb-469f-a165-70867728950e', 100);
    let before: bigint | undefined;
    const got = new Set<string>();
    const { client, errors } = await liveOnAll((e) => before !== undefined && BigInt(e.id) > before && got.add(e.match_id!), { connectTimeoutMs: 3000 });
    await sleep(500);
    before = BigInt(await maxOutboxId(infra.db));
    for (const id of matches) await goal(infra.db, id);
    await waitFor('an event of every match', async () => (got.size === matches.length ? true : undefined), 15_000);
    // Every stream's position is now one to resume (about 55 bytes each in the subscribe).
    expect(matches.every((id) => client.position(`match:${id}`) !== undefined)).toBe(true);

    await gateway.stop();
    processes.push(gateway.start());
    await gateway.ready();
    got.clear();
    before = BigInt(await maxOutboxId(infra.db));
    await goal(infra.db, matches[0]!);
    await waitFor('live again, with the goal after the restart', async () => (client.state === 'live' && got.size === 1 ? true : undefined), 15_000);
    expect(errors.filter((e) => e.fatal)).toEqual([]);
    client.close();
  });
});
