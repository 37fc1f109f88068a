/**
 * 018_signed_notifications.sql against a real PostgreSQL: every outbox notification is signed
 * with a key only the owner reads; the listener's and gateway's roles read the keys, no other
 * role can read or use them; a ListenConnection that verifies passes genuine notifications on
 * (the signed part alone) and rejects what any other role NOTIFYs, and follows a rotation.
 */
import { ListenConnection, NOTIFY_KEYS_QUERY, NotifyKeys, migrate } from '@matchcast/db';
import { InvalidBusMessage, decodeNotification } from '@matchcast/protocol';
import { PostgresServer, waitFor } from '@matchcast/testkit';
import pg from 'pg';

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

describe('signed notifications (018)', () => {
  let server: PostgresServer;
  let admin: pg.Client;
  const clients: pg.Client[] = [];

  /** A client logged in as a new role in `group` (or in none). */
  const loginAs = async (name: string, group?: string): Promise<pg.Client> => {
    await admin.query(`CREATE ROLE ${name} LOGIN${group ? ` IN ROLE ${group}` : ''}`);
    const url = new URL(server.url);
    url.username = name;
    url.password = '';
    const client = new pg.Client(url.toString());
    await client.connect();
    clients.push(client);
    return client;
  };

  /** The next notifications on `channels` seen by a plain LISTEN, as sent. */
  const capture = async (...channels: string[]): Promise<{ texts: string[]; close: () => Promise<void> }> => {
    const listener = new pg.Client(server.url);
    await listener.connect();
    const texts: string[] = [];
    listener.on('notification', (message) => texts.push(message.payload ?? ''));
    for (const channel of channels) await listener.query(`LISTEN ${channel}`);
    return { texts, close: () => listener.end() };
  };

  const keysAs = async (client: pg.Client): Promise<NotifyKeys> => {
    const keys = new NotifyKeys();
    keys.replace((await client.query(NOTIFY_KEYS_QUERY)).rows as Array<{ id: number; secret: Buffer }>);
    return keys;
  };

  beforeAll(async () => {
    server = await new PostgresServer().start();
    admin = new pg.Client(server.url);
    await admin.connect();
    await migrate(admin);
    await admin.query(`INSERT INTO league (id, name) VALUES ('l1', 'League');
      INSERT INTO team (id, league_id, name) VALUES ('h', 'l1', 'Home'), ('a', 'l1', 'Away');
      INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at) VALUES ('m1', 'l1', 'h', 'a', now());
      INSERT INTO scoreboard (match_id) VALUES ('m1')`);
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.end()));
    await admin?.end();
    await server?.destroy();
  });

  it('signs every outbox notification: match events, large ones (a reference) and user notifications, multi-byte text included; the signed part is the event', async () => {
    const sent = await capture('scoreboard_change', 'matchdata_change', 'notification_change');
    try {
      await admin.query(`UPDATE scoreboard SET home_score = 1 WHERE match_id = 'm1'`);
      await admin.query(`INSERT INTO matchdata (match_id, extra) VALUES ('m1', jsonb_build_object('notes', repeat('x', 9000)))`);
      await admin.query(`SELECT matchcast_notify_users(ARRAY['u1', 'u2'], 'Gól ⚽', 'Uno–cero, 𝄞 ü', 'goal', 'm1', NULL, NULL, '{}', NULL, NULL, 'k1')`);
      await waitFor('four notifications', async () => (sent.texts.length === 4 ? true : undefined), 5000);
      const keys = await keysAs(admin);
      const events = sent.texts.map((text) => {
        expect(text).toMatch(/^\{.*,"mac":"1\.[A-Za-z0-9+/]{43}="\}$/s);
        return decodeNotification(keys.open(text));
      });
      expect(events.map((event) => [event.stream, 'ref' in event])).toEqual([
        ['match:m1', false],
        ['match:m1', true],
        ['user:u1', false],
        ['user:u2', false],
      ]);
    } finally {
      await sent.close();
    }
  });

  it('lets the listener and gateway roles read the keys, and no one else read, make or use them', async () => {
    const listener = await loginAs('sig_listener', 'matchcast_listener');
    const gateway = await loginAs('sig_gateway', 'matchcast_gateway');
    const crawler = await loginAs('sig_crawler', 'matchcast_crawler');
    const stranger = await loginAs('sig_stranger');
    expect((await keysAs(listener)).open(`${(await signedSample())}`)).toMatch(/^\{/);
    await expect(keysAs(gateway)).resolves.toBeInstanceOf(NotifyKeys);
    for (const client of [crawler, stranger]) {
      await expect(client.query(NOTIFY_KEYS_QUERY)).rejects.toThrow(/permission denied/);
      await expect(client.query('SELECT * FROM notify_key')).rejects.toThrow(/permission denied/);
      await expect(client.query(`SELECT matchcast_notify('scoreboard_change', '{}')`)).rejects.toThrow(/permission denied/);
      await expect(client.query('SELECT matchcast_rotate_notify_key()')).rejects.toThrow(/permission denied/);
      await expect(client.query('SELECT matchcast_add_notify_key(now())')).rejects.toThrow(/permission denied/);
    }
    for (const client of [listener, gateway]) {
      await expect(client.query('SELECT * FROM notify_key')).rejects.toThrow(/permission denied/);
      await expect(client.query(`SELECT matchcast_notify('scoreboard_change', '{}')`)).rejects.toThrow(/permission denied/);
    }
  });

  /** A genuine signed notification, from a real write. */
  const signedSample = async (): Promise<string> => {
    const scores = await capture('scoreboard_change');
    try {
      await admin.query(`UPDATE scoreboard SET away_score = away_score + 1 WHERE match_id = 'm1'`);
      await waitFor('a notification', async () => scores.texts[0], 5000);
      return scores.texts[0]!;
    } finally {
      await scores.close();
    }
  };

  it('refuses what was not signed by the outbox code: unsigned, an unknown key, a changed payload or signature, another key', async () => {
    const keys = await keysAs(admin);
    const genuine = await signedSample();
    const at = genuine.lastIndexOf(',"mac":"');
    const payload = `${genuine.slice(0, at)}}`;
    const [id, mac] = genuine.slice(at + ',"mac":"'.length, -2).split('.') as [string, string];
    const withMac = (body: string, signature: string) => `${body.slice(0, -1)},"mac":"${signature}"}`;
    const otherMac = (mac[0] === 'A' ? 'B' : 'A') + mac.slice(1);
    const cases: Array<[string, RegExp]> = [
      [payload, /not signed/],
      [withMac(payload, `7.${mac}`), /unknown key 7/],
      [withMac(payload.replace('"seq" : ', '"seq":').replace('"seq":', '"seq": '), `${id}.${mac}`), /does not verify/],
      [withMac(payload, `${id}.${otherMac}`), /does not verify/],
      [withMac(payload, `${id}.${mac.slice(0, -2)}=`), /not signed/],
      [`${genuine} `, /not signed/],
      [withMac(payload, `${id}.${Buffer.alloc(32).toString('base64')}`), /does not verify/],
      [withMac(withMac(payload, `${id}.${mac}`), `${id}.${mac}`), /does not verify/],
    ];
    expect(keys.open(genuine)).toBe(payload);
    for (const [text, reason] of cases) {
      expect(() => keys.open(text)).toThrow(InvalidBusMessage);
      expect(() => keys.open(text)).toThrow(reason);
    }
  });

  it('a verifying ListenConnection passes the signed part on and rejects what another role NOTIFYs, through a key rotation', async () => {
    const listenerRole = new URL(server.url);
    listenerRole.username = 'sig_listener';
    listenerRole.password = '';
    const connection = new ListenConnection({
      connectionString: listenerRole.toString(),
      channels: ['scoreboard_change'],
      logger: quiet,
      verifySignatures: true,
      keysRefreshMs: 200,
      healthCheckIntervalMs: 100,
    });
    const passed: string[] = [];
    const rejected: string[] = [];
    connection.on('notification', (_channel, payload) => passed.push(payload));
    connection.on('rejected', (_channel, error) => rejected.push(error.message));
    connection.start();
    try {
      await waitFor('listening', async () => (connection.state === 'listening' ? true : undefined), 10_000);
      const stranger = clients.find((client) => client.user === 'sig_stranger')!;
      const forged = JSON.stringify({ id: '1', stream: 'match:m1', seq: 99, type: 'score', timestamp: new Date().toISOString(), match_id: 'm1', data: {} });
      await stranger.query(`SELECT pg_notify('scoreboard_change', $1)`, [forged]);
      await admin.query(`UPDATE scoreboard SET home_score = 10 WHERE match_id = 'm1'`);
      await waitFor('the genuine one', async () => (passed.length === 1 ? true : undefined), 5000);
      expect(rejected).toEqual(['notification is not signed']);
      expect(decodeNotification(passed[0]!)).toMatchObject({ stream: 'match:m1', data: { score: { home: 10 } } });

      // A rotation: the new key signs two minutes later; made to sign now here, once the connection has read it.
      const { rows } = await admin.query<{ id: number }>('SELECT matchcast_rotate_notify_key() AS id');
      const newKey = rows[0]!.id;
      await admin.query(`UPDATE scoreboard SET home_score = 11 WHERE match_id = 'm1'`); // still the old key
      await new Promise((resolve) => setTimeout(resolve, 500));
      await admin.query('UPDATE notify_key SET signs_from = now() WHERE id = $1', [newKey]);
      const scores = await capture('scoreboard_change');
      await admin.query(`UPDATE scoreboard SET home_score = 12 WHERE match_id = 'm1'`);
      await waitFor('both', async () => (passed.length === 3 && scores.texts.length === 1 ? true : undefined), 5000);
      await scores.close();
      expect(scores.texts[0]!).toContain(`,"mac":"${newKey}.`);
      expect(passed.slice(1).map((payload) => (decodeNotification(payload) as { data: { score: { home: number } } }).data.score.home)).toEqual([11, 12]);
      expect(rejected).toHaveLength(1);
      // The next rotation drops the oldest key: only the one signing now and the new one are read.
      await admin.query('SELECT matchcast_rotate_notify_key()');
      expect((await admin.query<{ id: number }>(NOTIFY_KEYS_QUERY)).rows.map((row) => row.id)).toEqual([newKey, newKey + 1]);
    } finally {
      await connection.close();
    }
  });
});
