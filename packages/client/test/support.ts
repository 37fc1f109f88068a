/**
 * Real servers for the client's integration tests: the repository's harness (throwaway
 * Postgres and Redis, the built gateway and notify-listener as child processes), a few
 * matches to write updates to, and the outbox as the record of what was committed.
 */
import { SignJWT } from 'jose';
import type pg from 'pg';
import WebSocket from 'ws';
import { MatchcastClient } from '../src/client';
import type { ConnectionState, MatchcastClientOptions } from '../src/types';
import type { DeliveredMessage } from '../src/wire';

export { GatewayProcess, Infra, ServiceProcess, freePort, waitFor } from '../../../tests/harness/stack';

export const SECRET = 'a-client-test-secret-that-is-32-chars-or-more';

/** An HS256 token for `sub`, expiring in `ttlSeconds`; `n` makes successive tokens differ. */
export function sign(sub: string, ttlSeconds: number, n = 0): Promise<string> {
  return new SignJWT({ sub, n })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(new TextEncoder().encode(SECRET));
}

/** A league, two teams and `count` matches (`<prefix>-m1`…), each with a scoreboard row. */
export async function seedMatches(db: pg.Client, prefix: string, count: number): Promise<string[]> {
  await db.query(`INSERT INTO league VALUES ($1, 'League') ON CONFLICT DO NOTHING`, [`${prefix}-l`]);
  await db.query(`INSERT INTO team (id, league_id, name) VALUES ($1, $3, 'Home'), ($2, $3, 'Away') ON CONFLICT DO NOTHING`, [
    `${prefix}-h`,
    `${prefix}-a`,
    `${prefix}-l`,
  ]);
  const ids: string[] = [];
  for (let i = 1; i <= count; i++) {
    const id = `${prefix}-m${i}`;
    await db.query(`INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at, status) VALUES ($1, $2, $3, $4, now(), 'live')`, [
      id,
      `${prefix}-l`,
      `${prefix}-h`,
      `${prefix}-a`,
    ]);
    await db.query(`INSERT INTO scoreboard (match_id) VALUES ($1)`, [id]);
    ids.push(id);
  }
  return ids;
}

/** One committed update (an outbox row) for the match. */
export function goal(db: pg.Client, matchId: string): Promise<unknown> {
  return db.query(`UPDATE scoreboard SET home_score = home_score + 1 WHERE match_id = $1`, [matchId]);
}

export async function maxOutboxId(db: pg.Client): Promise<string> {
  const { rows } = await db.query<{ id: string | null }>(`SELECT max(id)::text AS id FROM outbox`);
  return rows[0]?.id ?? '0';
}

/** The committed seqs per stream, in order, of outbox rows with id > afterId. */
export async function outboxSeqs(db: pg.Client, afterId: string, streams: string[]): Promise<Map<string, number[]>> {
  const { rows } = await db.query<{ stream: string; seq: number }>(
    `SELECT stream, seq FROM outbox WHERE id > $1 AND stream = ANY($2) ORDER BY stream, seq`,
    [afterId, streams],
  );
  const seqs = new Map<string, number[]>(streams.map((s) => [s, []]));
  for (const row of rows) seqs.get(row.stream)!.push(Number(row.seq));
  return seqs;
}

/**
 * A client over `ws` that records every event it delivers, per stream, and its states; and,
 * read off the wire, the channels the server holds subscribed for it (`subscribed` answers less
 * `unsubscribed` ones): what a test waits for before writing events that must arrive on them.
 */
export function recordingClient(options: Omit<MatchcastClientOptions, 'WebSocket'>) {
  const received = new Map<string, number[]>();
  const states: ConnectionState[] = [];
  const serverSubscribed = new Set<string>();
  class TappedWebSocket extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      this.on('message', (data) => {
        let message: { type?: unknown; channels?: unknown };
        try {
          message = JSON.parse(String(data)) as typeof message;
        } catch {
          return;
        }
        const channels = Array.isArray(message.channels) ? (message.channels as string[]) : [];
        if (message.type === 'subscribed') for (const channel of channels) serverSubscribed.add(channel);
        if (message.type === 'unsubscribed') for (const channel of channels) serverSubscribed.delete(channel);
      });
    }
  }
  const client = new MatchcastClient({ WebSocket: TappedWebSocket as never, backoff: { baseMs: 100, maxMs: 1000, lostJitterMs: 100 }, ...options });
  client.on('state', (state) => states.push(state));
  const record = (event: DeliveredMessage) => {
    const list = received.get(event.stream) ?? [];
    list.push(event.seq);
    received.set(event.stream, list);
  };
  /**
   * Records only events committed after outbox id `afterId`: a run's own. The seeding's events
   * may still be on their way through the listener when the client subscribes, and would arrive
   * live (seen in CI as a seed's seq 2 before the run's 3…).
   */
  const recordAfter = (afterId: string) => (event: DeliveredMessage) => {
    if (BigInt(event.id) > BigInt(afterId)) record(event);
  };
  return { client, received, states, record, recordAfter, serverSubscribed };
}

export function waitForState(client: MatchcastClient, state: ConnectionState, timeoutMs = 15_000): Promise<void> {
  if (client.state === state) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`client not ${state} within ${timeoutMs} ms (is ${client.state})`));
    }, timeoutMs);
    const off = client.on('state', (s) => {
      if (s !== state) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
