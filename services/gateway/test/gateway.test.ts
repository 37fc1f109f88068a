import { migrate } from '@matchcast/db';
import { EnvReader, createLogger } from '@matchcast/runtime';
import { PostgresServer } from '@matchcast/testkit';
import pg from 'pg';
import WebSocket from 'ws';
import { loadConfig } from '../src/config';
import { startGateway, type Gateway } from '../src/gateway';
import { TestClient } from './support';

describe('gateway (Postgres LISTEN mode)', () => {
  let server: PostgresServer;
  let db: pg.Client;
  let gateway: Gateway;
  let url: string;

  beforeAll(async () => {
    server = await new PostgresServer().start();
    db = new pg.Client(server.url);
    await db.connect();
    await migrate(db);
    await db.query(`INSERT INTO league VALUES ('epl', 'Premier League');
      INSERT INTO team (id, league_id, name) VALUES ('ars', 'epl', 'Arsenal'), ('che', 'epl', 'Chelsea');
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('m1', 'epl', 'ars', 'che', now())`);
    const config = loadConfig(new EnvReader({ DATABASE_URL: server.url, PORT: '0', OPS_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' }));
    gateway = await startGateway(config, createLogger('gateway', 'silent'));
    url = `ws://127.0.0.1:${gateway.port}/ws`;
  });

  afterAll(async () => {
    await gateway?.close();
    await db?.end();
    await server?.destroy();
  });

  it('delivers a committed update to a subscribed client in seed 000 shape with stream, seq and id', async () => {
    const client = new TestClient(url);
    await client.opened();
    await client.next((m) => m.type === 'connection_status');
    client.send({ action: 'subscribe', channels: ['match:m1'] });
    await client.next((m) => m.type === 'subscribed');
    await db.query(`UPDATE match SET status = 'live' WHERE id = 'm1'`);
    await db.query(`INSERT INTO scoreboard (match_id, home_score) VALUES ('m1', 1)`);
    const update = await client.next((m) => m.type === 'match_update');
    expect(update).toMatchObject({
      type: 'match_update',
      match_id: 'm1',
      channel: 'match:m1',
      stream: 'match:m1',
      data: { score: { home: 1, away: 0 }, status: 'live', home_team: { id: 'ars' } },
    });
    expect(typeof update.seq).toBe('number');
    expect(typeof update.id).toBe('string');
    expect(Date.parse(update.timestamp)).not.toBeNaN();
    const status = client.messages.find((m) => m.type === 'match_status');
    expect(status.data).toMatchObject({ old_status: 'scheduled', status: 'live' });
    expect(update.seq).toBe(status.seq + 1);
    client.ws.close();
  });

  it('answers bad input with stable error codes and keeps the connection', async () => {
    const client = new TestClient(url);
    await client.opened();
    client.send('{not json');
    client.send({ action: 'dance' });
    client.send({ action: 'subscribe', channels: ['bogus:1'] });
    client.send({ action: 'subscribe', channels: ['match:has space'] });
    client.send({ action: 'subscribe', channels: ['user:7'] });
    client.send({ action: 'subscribe', channels: ['all'], resume: { 'live:all': 3 } });
    client.send({ action: 'ping' });
    await client.next((m) => m.type === 'pong');
    const codes = client.messages.filter((m) => m.type === 'error').map((m) => m.code);
    expect(codes).toEqual(['BAD_JSON', 'UNKNOWN_ACTION', 'UNKNOWN_CHANNEL', 'INVALID_CHANNEL', 'FORBIDDEN_CHANNEL', 'BAD_RESUME']);
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
    client.ws.close();
  });

  it('closes with 1009 on an oversized frame', async () => {
    const client = new TestClient(url);
    await client.opened();
    const closed = new Promise<number>((resolve) => client.ws.on('close', (code) => resolve(code)));
    client.send({ action: 'subscribe', channels: ['all'], pad: 'x'.repeat(10_000) });
    expect(await closed).toBe(1009);
  });

  it('resumes a stream with no gap and no duplicate at the seam', async () => {
    const client = new TestClient(url);
    await client.opened();
    for (let i = 2; i <= 6; i++) await db.query(`UPDATE scoreboard SET home_score = $1 WHERE match_id = 'm1'`, [i]);
    const { rows } = await db.query(`SELECT last_seq::int AS seq FROM stream_counter WHERE stream = 'match:m1'`);
    const head = rows[0].seq as number;
    client.send({ action: 'subscribe', channels: ['league:epl'], resume: { 'match:m1': head - 3 } });
    await db.query(`UPDATE scoreboard SET home_score = 7 WHERE match_id = 'm1'`);
    await client.next((m) => m.seq === head + 1);
    const seqs = client.messages.filter((m) => m.stream === 'match:m1').map((m) => m.seq);
    expect(seqs).toEqual([head - 2, head - 1, head, head + 1]);
    expect(client.messages.filter((m) => m.stream).every((m) => m.channel === 'league:epl')).toBe(true);
    client.ws.close();
  });

  it('replays streams that began while the client was away, from `since`', async () => {
    const first = new TestClient(url);
    await first.opened();
    first.send({ action: 'subscribe', channels: ['league:epl'] });
    await first.next((m) => m.type === 'subscribed');
    await db.query(`UPDATE scoreboard SET home_score = home_score + 1 WHERE match_id = 'm1'`);
    const last = await first.next((m) => m.stream === 'match:m1');
    first.ws.close();

    await db.query(`INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('m2', 'epl', 'che', 'ars', now());
      INSERT INTO scoreboard (match_id, away_score) VALUES ('m2', 1)`);
    const second = new TestClient(url);
    await second.opened();
    second.send({ action: 'subscribe', channels: ['league:epl'], resume: { 'match:m1': last.seq }, since: last.timestamp });
    await second.next((m) => m.stream === 'match:m2' && m.seq === 2);
    expect(second.messages.filter((m) => m.stream === 'match:m2').map((m) => m.seq)).toEqual([1, 2]);
    expect(second.messages.filter((m) => m.stream === 'match:m1')).toEqual([]);
    second.ws.close();
  });

  it('streams the same messages over SSE and resumes from Last-Event-ID', async () => {
    const controller = new AbortController();
    /** The first `count` events of a stream; `onSubscribed` is called when its `subscribed` comes. */
    const read = async (headers: Record<string, string>, count: number, onSubscribed: () => void = () => undefined) => {
      const res = await fetch(`http://127.0.0.1:${gateway.port}/sse?channels=match:m1`, { headers, signal: controller.signal });
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      const reader = res.body!.getReader();
      const events: { id?: string; data: any }[] = [];
      let buffer = '';
      while (events.filter((e) => e.data.stream).length < count) {
        const { value } = await reader.read();
        buffer += new TextDecoder().decode(value);
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const id = /^id: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (data) events.push({ id, data: JSON.parse(data) });
          if (data && events.at(-1)!.data.type === 'subscribed') onSubscribed();
        }
      }
      await reader.cancel();
      return events.filter((e) => e.data.stream);
    };
    // The goal only once the stream is subscribed (not after a fixed 100 ms): before, it is no live event of this stream.
    let subscribed!: () => void;
    const isSubscribed = new Promise<void>((resolve) => (subscribed = resolve));
    const first = read({}, 1, subscribed);
    await isSubscribed;
    await db.query(`UPDATE scoreboard SET away_score = away_score + 1 WHERE match_id = 'm1'`);
    const [live] = await first;
    expect(live!.id).toMatch(/^1:[A-Za-z0-9_-]{22}:/); // a position token (sse-resume.test.ts)
    expect(live!.data).toMatchObject({ type: 'match_update', channel: 'match:m1' });
    await db.query(`UPDATE scoreboard SET away_score = away_score + 1 WHERE match_id = 'm1'`);
    await db.query(`UPDATE scoreboard SET away_score = away_score + 1 WHERE match_id = 'm1'`);
    const resumed = await read({ 'Last-Event-ID': live!.id! }, 2);
    expect(resumed.map((e) => e.data.seq)).toEqual([live!.data.seq + 1, live!.data.seq + 2]);
    // The older `<stream>@<seq>` form still resumes its one stream.
    const legacy = await read({ 'Last-Event-ID': `match:m1@${live!.data.seq}` }, 2);
    expect(legacy.map((e) => e.data.seq)).toEqual([live!.data.seq + 1, live!.data.seq + 2]);
    controller.abort();
  });

  it('refuses an SSE request for an unknown channel with a coded 404', async () => {
    const res = await fetch(`http://127.0.0.1:${gateway.port}/sse?channels=nope:1`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'UNKNOWN_CHANNEL' });
  });

  it('reports ready on /readyz with the broker mode', async () => {
    const res = await fetch(`http://127.0.0.1:${gateway.opsPort}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', mode: 'postgres', full: false, switching: false });
  });

  it('serves /healthz, /readyz and /metrics on the ops port only: the client port (published by the Ingress) has none of them', async () => {
    const ops = `http://127.0.0.1:${gateway.opsPort}`;
    const client = `http://127.0.0.1:${gateway.port}`;
    expect(gateway.opsPort).not.toBe(gateway.port);
    expect((await fetch(`${ops}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${ops}/metrics`)).text()).toContain('matchcast_gateway_');
    for (const path of ['/healthz', '/readyz', '/metrics']) expect((await fetch(`${client}${path}`)).status).toBe(404);
    // And the ops port serves nothing but them.
    expect((await fetch(`${ops}/sse?channels=match:m1`)).status).toBe(404);
  });
});
