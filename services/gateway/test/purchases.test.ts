/**
 * purchase:<id> channels against a real gateway (running as a member of matchcast_gateway, so a
 * missing grant fails) and Postgres: the buyer gets every `purchase` message of their purchase
 * in order, live and resumed, over WebSocket and SSE; an admin may watch; anyone else — and any
 * purchase that does not exist — is refused with FORBIDDEN_CHANNEL, revealing nothing.
 */
import { migrate } from '@matchcast/db';
import { EnvReader, createLogger } from '@matchcast/runtime';
import { PostgresServer, waitFor } from '@matchcast/testkit';
import pg from 'pg';
import { loadConfig } from '../src/config';
import { startGateway, type Gateway } from '../src/gateway';
import { SseStream } from './sse-support';
import { TEST_SECRET, TestClient, token } from './support';

const SLOW_MS = 20_000;

describe('purchase channels on a gateway', () => {
  let postgres: PostgresServer;
  let db: pg.Pool;
  let gateway: Gateway;
  let base: string;
  const sse: SseStream[] = [];
  const clients: TestClient[] = [];

  beforeAll(async () => {
    postgres = await new PostgresServer().start();
    db = new pg.Pool({ connectionString: postgres.url, max: 4 });
    await migrate(db);
    await db.query(`INSERT INTO league VALUES ('epl', 'Premier League');
      INSERT INTO team (id, league_id, name) VALUES ('ars', 'epl', 'Arsenal'), ('che', 'epl', 'Chelsea');
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at, status) VALUES ('m1', 'epl', 'ars', 'che', now(), 'live')`);
    await db.query('CREATE ROLE gateway_login LOGIN IN ROLE matchcast_gateway');
    const url = new URL(postgres.url);
    url.username = 'gateway_login';
    url.password = '';
    const config = loadConfig(
      new EnvReader({ DATABASE_URL: url.toString(), PORT: '0', OPS_PORT: '0', HOST: '127.0.0.1', AUTH_JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'silent', SSE_POSITION_KEY: 'k'.repeat(32) }),
    );
    gateway = await startGateway(config, createLogger('gateway', 'silent'));
    base = `http://127.0.0.1:${gateway.port}`;
  });

  afterAll(async () => {
    for (const stream of sse) stream.close();
    for (const client of clients) client.ws.terminate();
    await gateway?.close();
    await db?.end();
    await postgres?.destroy();
  });

  /** A new purchase for `user` (seq 1 of its stream): its id. */
  const purchase = async (user: string): Promise<string> =>
    (await db.query<{ id: string }>(`SELECT purchase->>'id' AS id FROM matchcast_create_purchase($1, 'm1', 2, NULL)`, [user])).rows[0]!.id;
  const move = (id: string, status: string) => db.query('SELECT matchcast_set_purchase_status($1::bigint, $2)', [id, status]);
  const connect = async (user: string, roles: string[] = []): Promise<TestClient> => {
    const client = new TestClient(`ws://127.0.0.1:${gateway.port}/ws?token=${await token(user, 600, { roles })}`);
    clients.push(client);
    await client.opened();
    return client;
  };
  const purchaseMessages = (client: { messages: any[] } | SseStream, id: string) =>
    ('streamEvents' in client ? client.streamEvents : client.messages).filter((m: any) => m.stream === `purchase:${id}`);
  const statuses = (messages: any[]) => messages.map((m) => [m.seq, m.data.old_status, m.data.status]);

  it('delivers the buyer every purchase message of their purchase, in order, and only on its channel', async () => {
    const id = await purchase('alice');
    const alice = await connect('alice');
    const watcher = await connect('fan');
    watcher.send({ action: 'subscribe', channels: ['all', 'live:all', 'match:m1'] });
    await watcher.next((m) => m.type === 'subscribed', SLOW_MS);
    alice.send({ action: 'subscribe', channels: [`purchase:${id}`] });
    expect(await alice.next((m) => m.type === 'subscribed' || m.type === 'error', SLOW_MS)).toEqual({ type: 'subscribed', channels: [`purchase:${id}`] });
    await move(id, 'paid');
    await move(id, 'issued');
    await waitFor('both messages', async () => (purchaseMessages(alice, id).length === 2 ? true : undefined), SLOW_MS);
    const got = purchaseMessages(alice, id);
    expect(statuses(got)).toEqual([[2, 'pending', 'paid'], [3, 'paid', 'issued']]);
    expect(got[0]).toMatchObject({ type: 'purchase', channel: `purchase:${id}`, match_id: null, data: { id, user_id: 'alice', match_id: 'm1', quantity: 2 } });
    // The public channels never carry a purchase (a live match's every channel was subscribed).
    await move(id, 'refunded');
    await waitFor('refund', async () => (purchaseMessages(alice, id).length === 3 ? true : undefined), SLOW_MS);
    expect(watcher.messages.filter((m) => typeof m.stream === 'string' && m.stream.startsWith('purchase:'))).toEqual([]);
  });

  /** One metric's value from /metrics (0 when absent). */
  const metric = async (name: string): Promise<number> => {
    const line = (await (await fetch(`http://127.0.0.1:${gateway.opsPort}/metrics`)).text()).split('\n').find((l) => l.startsWith(name + ' ') || l.startsWith(name + '{'));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
  };

  it('reads a buyer once per subscribe of an uncached purchase: never per delivered message, and not again once known', async () => {
    const id = await purchase('erin');
    const reads = await metric('matchcast_gateway_purchase_owner_reads_total');
    const tab1 = await connect('erin');
    tab1.send({ action: 'subscribe', channels: [`purchase:${id}`] });
    await tab1.next((m) => m.type === 'subscribed', SLOW_MS);
    expect(await metric('matchcast_gateway_purchase_owner_reads_total')).toBe(reads + 1);
    const tab2 = await connect('erin');
    tab2.send({ action: 'subscribe', channels: [`purchase:${id}`], resume: { [`purchase:${id}`]: 0 } });
    await tab2.next((m) => m.type === 'resumed', SLOW_MS);
    await move(id, 'paid');
    await move(id, 'issued');
    await move(id, 'refunded');
    for (const tab of [tab1, tab2]) await waitFor('refunded', async () => (purchaseMessages(tab, id).at(-1)?.data.status === 'refunded' ? true : undefined), SLOW_MS);
    expect(statuses(purchaseMessages(tab2, id)).map(([seq]) => seq)).toEqual([1, 2, 3, 4]);
    expect(await metric('matchcast_gateway_purchase_owner_reads_total')).toBe(reads + 1);
  });

  it('resumes the buyer\'s purchase stream exactly where they left it', async () => {
    const id = await purchase('alice');
    const first = await connect('alice');
    first.send({ action: 'subscribe', channels: [`purchase:${id}`] });
    await first.next((m) => m.type === 'subscribed', SLOW_MS);
    await move(id, 'paid');
    await waitFor('paid', async () => (purchaseMessages(first, id).length === 1 ? true : undefined), SLOW_MS);
    const lastSeen = purchaseMessages(first, id).at(-1).seq;
    first.ws.close();
    await first.closed;
    await move(id, 'issued');
    await move(id, 'refunded');
    const again = await connect('alice');
    again.send({ action: 'subscribe', channels: [`purchase:${id}`], resume: { [`purchase:${id}`]: lastSeen } });
    await again.next((m) => m.type === 'resumed', SLOW_MS);
    expect(statuses(purchaseMessages(again, id))).toEqual([[3, 'paid', 'issued'], [4, 'issued', 'refunded']]);
    // From the beginning too: the creation is seq 1.
    const fromStart = await connect('alice');
    fromStart.send({ action: 'subscribe', channels: [`purchase:${id}`], resume: { [`purchase:${id}`]: 0 } });
    await fromStart.next((m) => m.type === 'resumed', SLOW_MS);
    expect(statuses(purchaseMessages(fromStart, id)).map(([, , status]) => status)).toEqual(['pending', 'paid', 'issued', 'refunded']);
  });

  it('refuses anyone but the buyer or an admin with FORBIDDEN_CHANNEL, exactly as for a purchase that does not exist', async () => {
    const id = await purchase('alice');
    const bob = await connect('bob');
    const refusedAs = async (client: TestClient, request: Record<string, unknown>) => {
      const before = client.messages.length;
      client.send({ action: 'subscribe', ...request });
      return client.next((m) => client.messages.indexOf(m) >= before && (m.type === 'error' || m.type === 'subscribed'), SLOW_MS);
    };
    const other = await refusedAs(bob, { channels: [`purchase:${id}`] });
    expect(other).toMatchObject({ type: 'error', code: 'FORBIDDEN_CHANNEL' });
    const missing = await refusedAs(bob, { channels: ['purchase:987654321'] });
    expect(missing).toEqual({ ...other, message: other.message.replace(id, '987654321'), channels: ['purchase:987654321'] });
    // Nothing of it: not as a resume key on another channel, not with a service token, not anonymous.
    expect(await refusedAs(bob, { channels: ['all'], resume: { [`purchase:${id}`]: 0 } })).toMatchObject({ type: 'error', code: 'FORBIDDEN_CHANNEL' });
    const service = await connect('payments', ['service']);
    expect(await refusedAs(service, { channels: [`purchase:${id}`] })).toMatchObject({ type: 'error', code: 'FORBIDDEN_CHANNEL' });
    for (const name of ['purchase:abc', 'purchase:0', 'purchase:0012']) {
      expect(await refusedAs(bob, { channels: [name] })).toMatchObject({ type: 'error', code: 'FORBIDDEN_CHANNEL' });
    }
    await move(id, 'paid');
    const admin = await connect('ops', ['admin']);
    expect(await refusedAs(admin, { channels: [`purchase:${id}`], resume: { [`purchase:${id}`]: 0 } })).toEqual({ type: 'subscribed', channels: [`purchase:${id}`] });
    await waitFor('admin replay', async () => (purchaseMessages(admin, id).length === 2 ? true : undefined), SLOW_MS);
    await move(id, 'issued');
    await waitFor('admin live', async () => (purchaseMessages(admin, id).length === 3 ? true : undefined), SLOW_MS);
    expect(purchaseMessages(bob, id)).toEqual([]);
    // The refused connection lives on.
    expect(await refusedAs(bob, { channels: ['match:m1'] })).toEqual({ type: 'subscribed', channels: ['match:m1'] });
  });

  it('over SSE: the buyer streams and resumes with Last-Event-ID; anyone else gets 403 FORBIDDEN_CHANNEL before the stream opens', async () => {
    const id = await purchase('carol');
    const open = async (user: string, headers: Record<string, string> = {}, roles: string[] = []) => {
      const stream = new SseStream(`${base}/sse?channels=purchase:${id}&token=${await token(user, 600, { roles })}`, headers);
      sse.push(stream);
      await stream.opened();
      return stream;
    };
    const other = await open('dave');
    await other.done;
    expect(other.status).toBe(403);
    expect(other.body).toMatchObject({ error: 'FORBIDDEN_CHANNEL' });

    const carol = await open('carol');
    expect(carol.status).toBe(200);
    await carol.next((e) => e.json?.type === 'subscribed', SLOW_MS);
    await move(id, 'paid');
    await carol.next((e) => e.json?.data?.status === 'paid', SLOW_MS);
    const lastEventId = carol.lastEventId;
    carol.close();
    await move(id, 'issued');
    const back = await open('carol', { 'Last-Event-ID': lastEventId });
    await back.next((e) => e.json?.data?.status === 'issued', SLOW_MS);
    expect(statuses(purchaseMessages(back, id))).toEqual([[3, 'paid', 'issued']]);
    const admin = await open('ops', {}, ['admin']);
    expect(admin.status).toBe(200);
    // A position token is no key: carol's Last-Event-ID does not open the purchase to dave.
    const replayed = await open('dave', { 'Last-Event-ID': lastEventId });
    await replayed.done;
    expect(replayed.status).toBe(403);
  });
});
