/**
 * The demo's local provider, polled by the real HTTP source: matches progress in time from
 * TIMED through IN_PLAY, PAUSED and FINISHED, with goals whose count is the score, 304s for
 * unchanged answers, and quota headers.
 */
import { createLogger } from '@matchcast/runtime';
import { ADAPTERS, HttpSource, type SnapshotOp } from '../src';
import { DemoFeed } from '../src/feed-server/demo-feed';
import { startFeedServer, type FeedServer } from '../src/feed-server/server';

let server: FeedServer;
afterAll(() => server?.close());

describe('demo feed server', () => {
  it('plays a whole match that the HTTP source follows, goals and all', async () => {
    // Half time lasts long enough that a poll every 40 ms sees it on a loaded machine too (200 ms was missed under CI load).
    const feed = new DemoFeed({ matchMinuteMs: 15, halfTimeMs: 2000, firstKickoffMs: 300, kickoffSpacingMs: 60_000, startedAt: Date.now() });
    server = await startFeedServer(feed, 0);
    const source = new HttpSource({
      adapter: ADAPTERS['football-data'],
      baseUrl: `http://127.0.0.1:${server.port}`,
      competitions: ['DEMO'],
      liveIntervalMs: 40,
      idleIntervalMs: 40,
      requestsPerMinute: 5000,
      timeoutMs: 2000,
      maxBodyBytes: 1_000_000,
      backoffBaseMs: 20,
      backoffMaxMs: 100,
      matchDetails: true,
      logger: createLogger('feed-server-test', 'silent'),
    });
    const ops: SnapshotOp[] = [];
    const stop = AbortSignal.timeout(15_000);
    while (!stop.aborted) {
      const op = (await source.next(stop)) as SnapshotOp | undefined;
      if (!op) break;
      ops.push(op);
      if (op.match_id === 'fd-100000' && op.status === 'finished') break;
    }
    const first = ops.filter((o) => o.match_id === 'fd-100000');
    const statuses = first.map((o) => o.status).filter((s, i, all) => s !== all[i - 1]);
    expect(statuses).toEqual(['scheduled', 'live', 'half_time', 'live', 'finished']);
    const final = first.at(-1)!;
    const goals = (final.events ?? []).filter((e) => e.kind === 'goal');
    expect(goals.filter((g) => g.team === 'home').length).toBe(final.score.home);
    expect(goals.filter((g) => g.team === 'away').length).toBe(final.score.away);
    expect(final.provider_updated_at).toEqual(expect.any(String));

    const list = await fetch(`http://127.0.0.1:${server.port}/v4/competitions/DEMO/matches`);
    expect(list.headers.get('x-requests-available-minute')).toMatch(/^\d+$/);
    const again = await fetch(`http://127.0.0.1:${server.port}/v4/competitions/DEMO/matches`, { headers: { 'if-none-match': list.headers.get('etag')! } });
    expect(again.status).toBe(304);
    expect((await fetch(`http://127.0.0.1:${server.port}/v4/matches/nope`)).status).toBe(404);
  }, 30_000);
});
