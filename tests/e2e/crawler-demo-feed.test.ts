/**
 * `make demo FEED=http` (DEMO_FEED=http): the demo with the crawler's HTTP source polling the
 * local provider (football-data v4 format) instead of the simulator. The first match kicks off
 * about 15 s after the start; its kick-off and its clock reach a WebSocket client through the
 * edge, and the crawler's metrics show the polls and the provider's 304s.
 */
import { mkdtempSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePortRange, startChild, waitFor, type ManagedChild } from '@matchcast/testkit';
import { TestClient } from '../../services/gateway/test/support';
import { LOG_DIR } from '../harness/stack';

const ROOT = resolve(__dirname, '..', '..');
/** The demo uses PORT … PORT+13 with DEMO_FEED=http (see scripts/src/demo.ts). */
const PORT_SPAN = 14;

describe('make demo FEED=http', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'matchcast-demo-http-'));
  let demo: ManagedChild;
  let base: number;
  let client: TestClient | undefined;

  afterAll(async () => {
    client?.ws.close();
    await demo?.stop('SIGINT', 30_000);
  });

  it('the crawler polls the local provider and the first match goes live on the sockets', async () => {
    chmodSync(dataDir, 0o755); // the embedded Postgres runs as its own user (when we are root)
    base = await freePortRange(PORT_SPAN);
    const { DATABASE_URL: _db, REDIS_URL: _redis, ...env } = process.env;
    demo = startChild(process.execPath, [join(ROOT, 'scripts', 'dist', 'demo.js')], join(LOG_DIR, 'demo-http.log'), {
      env: { ...env, PORT: String(base), DEMO_DATA_DIR: dataDir, DEMO_FEED: 'http' },
    });
    await waitFor('the gateway ready', async () => ((await fetch(`http://127.0.0.1:${base + 4}/readyz`)).ok ? true : undefined), 120_000, 250);
    client = new TestClient(`ws://127.0.0.1:${base}/ws`);
    await client.opened();
    client.send({ action: 'subscribe', channels: ['match:fd-100000'] });
    await client.next((m) => m.type === 'subscribed');

    const live = await client.next((m) => m.type === 'match_status' && m.data.status === 'live', 60_000);
    expect(live).toMatchObject({ match_id: 'fd-100000', data: { home_team: { name: 'Harbour City' }, away_team: { name: 'Northgate' } } });
    await client.next((m) => m.type === 'match_update' && m.data.update_type === 'clock', 20_000);

    const metrics = await (await fetch(`http://127.0.0.1:${base + 2}/metrics`)).text();
    const value = (series: string) => Number(metrics.split('\n').find((l) => l.startsWith(series))?.split(' ').pop());
    expect(value('matchcast_crawler_http_polls_total{result="modified"')).toBeGreaterThan(0);
    expect(value('matchcast_crawler_transactions_total{op="snapshot"')).toBeGreaterThan(0);
    expect(value('matchcast_crawler_transactions_total{op="playclock"')).toBe(0); // no simulator
  }, 240_000);
});
