/**
 * Two crawler replicas on one HTTP source: one leads (advisory lock), one stands by. The leader
 * is SIGKILLed in the middle of a match; the standby takes the lock within a few seconds and
 * carries on from the provider's current state. A WebSocket client (through the real gateway)
 * gets every change of the match exactly once, in order: nothing lost, nothing doubled.
 */
import { TestClient } from '../../services/gateway/test/support';
import { FixtureServer, httpSourceEnv, type Step } from '../../services/crawler/test/fixture-server';
import { fdMatch, fdMatchList, type FdMatchSpec } from '../../services/crawler/src/feed-server/football-data-json';
import { GatewayProcess, Infra, ServiceProcess, freePort, waitFor } from '../harness/stack';

const COMPETITION = { id: 77, code: 'HA', name: 'Failover Cup' };
const PATH = '/v4/competitions/HA/matches';
const goal = (minute: number, team: 'home' | 'away', name: string) => ({ minute, team, scorer: { id: minute, name } });

function state(change: Partial<FdMatchSpec>): Step {
  const match = fdMatch({
    id: 7001,
    competition: COMPETITION,
    utcDate: '2026-05-01T15:00:00Z',
    status: 'IN_PLAY',
    home: { id: 1, name: 'Home' },
    away: { id: 2, name: 'Away' },
    score: { home: 0, away: 0 },
    ...change,
  });
  return { body: fdMatchList(COMPETITION, [match]) };
}

/** Each state of the match is answered for `polls` requests in a row. */
const hold = (polls: number, step: Step): Step[] => Array.from({ length: polls }, () => step);

const g1 = goal(10, 'home', 'First');
const g2 = goal(55, 'home', 'Second');
const g3 = goal(80, 'away', 'Third');

describe('crawler leader killed mid-match', () => {
  const infra = new Infra();
  const provider = new FixtureServer();
  const services: ServiceProcess[] = [];
  let client: TestClient;

  afterAll(async () => {
    client?.ws.close();
    await Promise.all(services.map((s) => s.stop()));
    await provider.close();
    await infra.destroy();
  });

  it('the standby takes over within seconds; every change reaches the client exactly once, in order', async () => {
    // Before kick-off while the replicas start; the match itself once both are up.
    const beforeKickoff = state({ status: 'TIMED', score: null });
    provider.script(PATH, [beforeKickoff]);
    const match = [
      ...hold(5, state({})),
      ...hold(5, state({ score: { home: 1, away: 0 }, goals: [g1] })),
      // The leader is killed around here.
      ...hold(20, state({ status: 'PAUSED', score: { home: 1, away: 0 }, goals: [g1] })),
      ...hold(5, state({ score: { home: 1, away: 0 }, goals: [g1] })),
      ...hold(5, state({ score: { home: 2, away: 0 }, goals: [g1, g2] })),
      ...hold(5, state({ score: { home: 2, away: 1 }, goals: [g1, g2, g3] })),
      state({ status: 'FINISHED', score: { home: 2, away: 1 }, goals: [g1, g2, g3] }),
    ];
    await infra.start(false);
    const baseUrl = await provider.start();
    const gateway = new GatewayProcess(await freePort(), await freePort(), { DATABASE_URL: infra.postgres.url }, 'gateway-crawler-ha');
    services.push(gateway.start());
    await gateway.ready();
    client = new TestClient(gateway.wsUrl);
    await client.opened();
    client.send({ action: 'subscribe', channels: ['all'] });
    await client.next((m) => m.type === 'subscribed');

    const crawler = async (name: string) => {
      const port = await freePort();
      const process = new ServiceProcess(
        'crawler',
        httpSourceEnv(infra.postgres.url, port, baseUrl, ['HA'], {
          CRAWLER_HTTP_LIVE_INTERVAL_MS: '100',
          CRAWLER_HTTP_IDLE_INTERVAL_MS: '100',
          CRAWLER_LEADER_POLL_MS: '500',
        }),
        name,
      ).start();
      services.push(process);
      const leads = async () => {
        try {
          return ((await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as { leader?: boolean }).leader;
        } catch {
          return undefined;
        }
      };
      return { process, leads };
    };

    const replicas = [await crawler('crawler-ha-a'), await crawler('crawler-ha-b')];
    const roles = async () => Promise.all(replicas.map((r) => r.leads()));
    await waitFor('one leader, one standby', async () => ((await roles()).sort().join() === 'false,true' ? true : undefined), 20_000);
    const leaderIndex = (await roles()).indexOf(true);
    const [leader, standby] = [replicas[leaderIndex]!, replicas[1 - leaderIndex]!];
    await client.next((m) => m.type === 'match_status' && m.data.status === 'scheduled', 10_000);

    provider.script(PATH, match);
    await client.next((m) => m.type === 'match_event', 20_000);
    const killedAt = Date.now();
    await leader.process.kill();
    await waitFor('the standby to lead', async () => ((await standby.leads()) === true ? true : undefined), 10_000);
    await waitFor('a request after the kill', async () => (provider.requests.some((r) => r.at > killedAt) ? true : undefined), 10_000);
    const firstAfterKill = provider.requests.find((r) => r.at > killedAt);
    expect(provider.remaining(PATH)).toBeGreaterThan(10); // it was killed mid-match indeed
    await waitFor('the final whistle', async () => (client.messages.some((m) => m.type === 'match_status' && m.data.status === 'finished') ? true : undefined), 30_000);
    // A few more polls of the final state: repeats must send nothing.
    const served = provider.requests.length;
    await waitFor('more polls', async () => (provider.requests.length >= served + 5 ? true : undefined), 10_000);

    expect(firstAfterKill!.at - killedAt).toBeLessThan(5000);
    const events = client.messages.filter((m) => m.match_id === 'fd-7001' && typeof m.seq === 'number');
    expect(events.map((m) => m.seq)).toEqual(events.map((_, i) => i + 1));
    expect(
      events.map((m) =>
        m.type === 'match_status' ? m.data.status : m.type === 'match_event' ? `${m.data.event.type} ${m.data.event.player}` : `${m.data.update_type} ${m.data.score.home}-${m.data.score.away}`,
      ),
    ).toEqual([
      'scheduled',
      'live',
      'score 1-0',
      'goal First',
      'half_time',
      'live',
      'score 2-0',
      'goal Second',
      'score 2-1',
      'goal Third',
      'finished',
    ]);
  }, 120_000);
});
