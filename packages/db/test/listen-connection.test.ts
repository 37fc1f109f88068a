import pg from 'pg';
import { PostgresServer, waitFor } from '@matchcast/testkit';
import { ListenConnection, type ListenConnectionOptions, type ListenLogger } from '../src/listen-connection';

/** A logger that keeps every line, so tests can assert the log lines operators grep for. */
function recordingLogger(): ListenLogger & { lines: string[] } {
  const lines: string[] = [];
  const log = (_fields: Record<string, unknown>, message: string) => void lines.push(message);
  return { lines, debug: log, info: log, warn: log, error: log };
}

/** Resolves with the event's arguments, or rejects after timeoutMs. */
function nextEvent(emitter: ListenConnection, event: 'listening' | 'standby' | 'lost', timeoutMs: number): Promise<unknown[]> {
  const promise = new Promise<unknown[]>((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, handler);
      reject(new Error(`no '${event}' within ${timeoutMs} ms (state ${emitter.state})`));
    }, timeoutMs);
    const handler = (...args: unknown[]) => {
      clearTimeout(timer);
      resolve(args);
    };
    emitter.once(event, handler);
  });
  promise.catch(() => undefined); // awaited later; a failure surfaces there
  return promise;
}

describe('ListenConnection', () => {
  let server: PostgresServer;
  let admin: pg.Client;
  const open: ListenConnection[] = [];

  const connection = (options: Partial<ListenConnectionOptions> = {}) => {
    const conn = new ListenConnection({
      connectionString: server.url,
      channels: ['alpha_change', 'beta_change'],
      logger: recordingLogger(),
      reconnectDelayMs: 100,
      healthCheckIntervalMs: 500,
      healthCheckTimeoutMs: 500,
      connectTimeoutMs: 1000,
      ...options,
    });
    open.push(conn);
    return conn;
  };

  const adminClient = async () => {
    const client = new pg.Client({ connectionString: server.url });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };

  const notify = async (channel: string, payload: string) => {
    await admin.query('SELECT pg_notify($1, $2)', [channel, payload]);
  };

  beforeAll(async () => {
    server = await new PostgresServer().start();
    admin = await adminClient();
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((conn) => conn.close()));
  });

  afterAll(async () => {
    await admin?.end().catch(() => undefined);
    await server?.destroy();
  });

  test('emits listening, then every notification in arrival order with its raw payload', async () => {
    const logger = recordingLogger();
    const conn = connection({ logger });
    const events: string[] = [];
    conn.on('listening', () => events.push('listening'));
    conn.on('notification', (channel, payload) => events.push(`${channel}:${payload}`));
    expect(conn.state).toBe('idle');
    const listening = nextEvent(conn, 'listening', 5000);
    conn.start();
    await listening;
    expect(conn.state).toBe('listening');
    expect(logger.lines).toContain('Connected to PostgreSQL');

    const expected: string[] = [];
    for (let i = 0; i < 40; i += 1) {
      const channel = i % 3 === 0 ? 'beta_change' : 'alpha_change';
      const payload = JSON.stringify({ seq: i, text: 'ünïcode "quoted"' });
      expected.push(`${channel}:${payload}`);
      await notify(channel, payload);
    }
    // One transaction with several NOTIFYs: delivered at commit, in order.
    await admin.query('BEGIN');
    for (const n of [40, 41, 42]) {
      expected.push(`alpha_change:${n}`);
      await notify('alpha_change', String(n));
    }
    await admin.query("SELECT pg_notify('not_listened', 'x')");
    await admin.query('COMMIT');

    await waitFor('all notifications', async () => (events.length >= expected.length + 1 ? true : undefined), 5000);
    expect(events).toEqual(['listening', ...expected]);
  });

  test('a consumer handler that throws is logged; the connection and later notifications are unaffected', async () => {
    const logger = recordingLogger();
    const conn = connection({ logger });
    const got: string[] = [];
    conn.on('notification', (_channel, payload) => {
      got.push(payload);
      if (payload === 'boom') throw new Error('consumer bug');
    });
    let lost = 0;
    conn.on('lost', () => (lost += 1));
    const listening = nextEvent(conn, 'listening', 5000);
    conn.start();
    await listening;
    await notify('alpha_change', 'boom');
    await notify('alpha_change', 'fine');
    await waitFor('both notifications', async () => (got.length === 2 ? true : undefined), 5000);
    expect(got).toEqual(['boom', 'fine']);
    expect(lost).toBe(0);
    expect(conn.state).toBe('listening');
    expect(logger.lines).toContain('ListenConnection event handler threw');
  });

  test('reconnects by itself after a Postgres restart and emits listening again', async () => {
    const logger = recordingLogger();
    const conn = connection({ logger });
    const received: string[] = [];
    conn.on('notification', (_channel, payload) => received.push(payload));
    let lost = 0;
    conn.on('lost', () => (lost += 1));
    const first = nextEvent(conn, 'listening', 5000);
    conn.start();
    await first;
    await notify('alpha_change', 'before');
    // Delivered before the restart, not lost with it: a NOTIFY reaches the listener asynchronously.
    await waitFor('the notification before the restart', async () => (received.includes('before') ? true : undefined), 5000);

    const again = nextEvent(conn, 'listening', 20_000);
    await server.restart();
    await again;
    expect(lost).toBe(1);
    expect(conn.state).toBe('listening');
    expect(logger.lines.some((line) => line.startsWith('Connection error: '))).toBe(true);
    expect(logger.lines).toContain('Reconnecting in 0.1 seconds...');
    expect(logger.lines.filter((line) => line === 'Connected to PostgreSQL')).toHaveLength(2);

    admin = await adminClient();
    await notify('alpha_change', 'after');
    await waitFor('the notification after the restart', async () => (received.includes('after') ? true : undefined), 5000);
    expect(received).toEqual(['before', 'after']);
  });

  test('with a leader lock only one connection listens; the standby takes over when the leader closes or dies', async () => {
    const key = 424242;
    const a = connection({ leaderLockKey: key, applicationName: 'lc-a' });
    // The terminated leader comes back after its reconnect delay (5 s in production), later
    // than the standby's next lock poll (1 s), so the standby wins.
    const b = connection({ leaderLockKey: key, applicationName: 'lc-b', reconnectDelayMs: 2500 });
    const got = { a: [] as string[], b: [] as string[], c: [] as string[] };
    a.on('notification', (_channel, payload) => got.a.push(payload));
    b.on('notification', (_channel, payload) => got.b.push(payload));

    const aListening = nextEvent(a, 'listening', 5000);
    a.start();
    await aListening;
    const bStandby = nextEvent(b, 'standby', 5000);
    b.start();
    await bStandby;
    expect(b.state).toBe('standby');

    await notify('alpha_change', 'one');
    await waitFor('the leader to get it', async () => (got.a.length === 1 ? true : undefined), 5000);
    await new Promise((r) => setTimeout(r, 200));
    expect(got.b).toEqual([]);

    // Leader closes: its lock is released at once, the standby (polling every 1 s) takes over.
    const closedAt = Date.now();
    const bListening = nextEvent(b, 'listening', 3000);
    await a.close();
    await a.close(); // safe twice
    expect(a.state).toBe('closed');
    await bListening;
    // Closed means closed: no reconnect afterwards.
    await new Promise((r) => setTimeout(r, 300));
    const { rows: left } = await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'lc-a'");
    expect(left).toEqual([{ n: 0 }]);
    expect(a.state).toBe('closed');
    expect(Date.now() - closedAt).toBeLessThan(2000);
    await notify('alpha_change', 'two');
    await waitFor('the new leader to get it', async () => (got.b.includes('two') ? true : undefined), 5000);
    expect(got.a).toEqual(['one']);

    // Leader's backend is terminated: the next standby takes over, the old leader comes back as standby.
    const c = connection({ leaderLockKey: key, applicationName: 'lc-c' });
    c.on('notification', (_channel, payload) => got.c.push(payload));
    const cStandby = nextEvent(c, 'standby', 5000);
    c.start();
    await cStandby;
    const bLost = nextEvent(b, 'lost', 3000);
    const cListening = nextEvent(c, 'listening', 3000);
    const bBackToStandby = nextEvent(b, 'standby', 5000);
    const killedAt = Date.now();
    const terminated = await admin.query(
      "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'lc-b'",
    );
    expect(terminated.rows).toEqual([{ ok: true }]);
    await Promise.all([bLost, cListening]);
    expect(Date.now() - killedAt).toBeLessThan(2000);
    await bBackToStandby;

    await notify('alpha_change', 'three');
    await waitFor('the third leader to get it', async () => (got.c.includes('three') ? true : undefined), 5000);
    await new Promise((r) => setTimeout(r, 200));
    expect(got.b).toEqual(['two']);
    expect(got.c).toEqual(['three']);
  });

  test('a closing leader hands over at once: the standby is woken by NOTIFY, not by its next lock poll', async () => {
    const key = 535353;
    // A poll far longer than the takeover bound: only the handover NOTIFY can explain a fast takeover.
    const leader = connection({ leaderLockKey: key, applicationName: 'lc-handover-leader', standbyPollMs: 30_000 });
    const standby = connection({ leaderLockKey: key, applicationName: 'lc-handover-standby', standbyPollMs: 30_000 });
    // Another lock key's standby stays asleep: the wake-up names the key.
    const other = connection({ leaderLockKey: key + 1, applicationName: 'lc-handover-other', standbyPollMs: 30_000 });
    const otherHolder = await adminClient();
    await otherHolder.query('SELECT pg_advisory_lock($1)', [key + 1]);
    const leading = nextEvent(leader, 'listening', 5000);
    leader.start();
    await leading;
    const standing = [nextEvent(standby, 'standby', 5000), nextEvent(other, 'standby', 5000)];
    standby.start();
    other.start();
    await Promise.all(standing);

    const takeover = nextEvent(standby, 'listening', 3000);
    const closedAt = Date.now();
    await leader.close();
    await takeover;
    expect(Date.now() - closedAt).toBeLessThan(500);
    expect(other.state).toBe('standby');
    await otherHolder.end();
  });

  test('a flood of forged handover NOTIFYs (any login may send one) costs a standby a lock query per 100 ms, and a real handover is still taken at once', async () => {
    const key = 545454;
    const leader = connection({ leaderLockKey: key, applicationName: 'lc-flood-leader', standbyPollMs: 30_000 });
    const standby = connection({ leaderLockKey: key, applicationName: 'lc-flood-standby', standbyPollMs: 30_000 });
    const leading = nextEvent(leader, 'listening', 5000);
    leader.start();
    await leading;
    const standing = nextEvent(standby, 'standby', 5000);
    standby.start();
    await standing;

    const lockQueries = jest.spyOn(pg.Client.prototype, 'query');
    const locks = () => lockQueries.mock.calls.filter(([text]) => typeof text === 'string' && text.includes('pg_try_advisory_lock')).length;
    const forger = await adminClient();
    let flooding = true;
    let forged = 0;
    const flood = (async () => {
      while (flooding) {
        await forger.query('SELECT pg_notify($1, $2)', ['matchcast_leader_handover', String(key)]);
        forged++;
      }
    })();
    try {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const during = locks();
      expect(forged).toBeGreaterThan(200);
      expect(during).toBeLessThanOrEqual(12);
      expect(standby.state).toBe('standby');

      const takeover = nextEvent(standby, 'listening', 3000);
      const closedAt = Date.now();
      await leader.close();
      await takeover;
      expect(Date.now() - closedAt).toBeLessThan(500);
    } finally {
      flooding = false;
      await flood;
      lockQueries.mockRestore();
      await forger.end();
    }
  });

  test('a frozen server (SIGSTOP) is detected by the timed check query within interval + timeout', async () => {
    const conn = connection({ healthCheckIntervalMs: 1000, healthCheckTimeoutMs: 500, connectTimeoutMs: 500, applicationName: 'lc-frozen' });
    const listening = nextEvent(conn, 'listening', 5000);
    conn.start();
    await listening;
    const { rows } = await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = 'lc-frozen'");
    const backend = rows[0]!.pid;

    const lost = nextEvent(conn, 'lost', 5000);
    const frozenAt = Date.now();
    // Freeze the postmaster and the backend that serves this connection: the kernel keeps the
    // TCP connection open (keepalive probes are still answered), only the check query can tell.
    server.signal('SIGSTOP');
    process.kill(backend, 'SIGSTOP');
    try {
      const [error] = await lost;
      expect(Date.now() - frozenAt).toBeLessThan(1000 + 500 + 700);
      expect((error as { code?: string }).code).toBe('PG_LISTEN_TIMEOUT');
      expect(conn.state).toBe('connecting');
    } finally {
      process.kill(backend, 'SIGCONT');
      server.signal('SIGCONT');
    }
    await nextEvent(conn, 'listening', 10_000);
    expect(conn.state).toBe('listening');
  });
});
