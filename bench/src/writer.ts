import pg from 'pg';
import { onCleanup } from './cleanup';
import { nowMs, sleep, summarize, type LatencySummary } from './stats';

/** Each event is one autocommit UPDATE (its own transaction) firing one outbox trigger. */
const STATEMENTS = [
  { name: 'bench_score', text: 'UPDATE scoreboard SET home_score = home_score + 1, updated_at = clock_timestamp() WHERE match_id = $1' },
  { name: 'bench_clock', text: 'UPDATE gameclock SET minute = minute + 1, updated_at = clock_timestamp() WHERE match_id = $1' },
] as const;

export interface WriteResult {
  streams: string[];
  /** First seq the run wrote on each stream. */
  firstSeq: number[];
  /** Commit time (ms, when COMMIT returned) of seq firstSeq[i] + j, at commits[i][j]. */
  commits: Float64Array[];
  committed: number;
  startedMs: number;
  endedMs: number;
  achievedRate: number;
  /** How late a write was issued versus its schedule (the writer keeping up). */
  issueLagMaxMs: number;
  /** Round trip of the UPDATE (issue → commit returned). */
  commitRoundTripMs: LatencySummary | undefined;
}

/**
 * Writes events straight into Postgres at a fixed rate and records when each committed.
 * The seq of each event is known without reading it back: the bench is the only writer,
 * each stream (match) belongs to one writer connection, and seqs are contiguous per stream.
 * After the run the stream heads are checked against that prediction.
 */
export class EventWriter {
  private readonly connections: pg.Client[] = [];

  constructor(
    private readonly url: string,
    private readonly matchIds: string[],
    private readonly writerCount: number,
  ) {}

  async open(): Promise<void> {
    for (let i = 0; i < this.writerCount; i++) {
      const client = new pg.Client({ connectionString: this.url, application_name: `matchcast-bench-writer-${i}` });
      await client.connect();
      this.connections.push(client);
    }
    onCleanup('writer connections', () => this.close());
  }

  async close(): Promise<void> {
    await Promise.all(this.connections.splice(0).map((c) => c.end().catch(() => undefined)));
  }

  private async heads(streams: string[]): Promise<Map<string, number>> {
    const { rows } = await this.connections[0]!.query<{ stream: string; last_seq: number }>(
      'SELECT stream, last_seq::int AS last_seq FROM stream_counter WHERE stream = ANY($1)',
      [streams],
    );
    return new Map(rows.map((r) => [r.stream, r.last_seq]));
  }

  /** `emitting: false` when the tables' triggers are off (a cost baseline): no seq to check. */
  async run(rate: number, seconds: number, emitting = true): Promise<WriteResult> {
    const matches = this.matchIds.length;
    const streams = this.matchIds.map((id) => `match:${id}`);
    const before = await this.heads(streams);
    const firstSeq = streams.map((s) => (before.get(s) ?? 0) + 1);
    const total = rate * seconds;
    const perStream = streams.map((_, i) => Math.floor(total / matches) + (i < total % matches ? 1 : 0));
    const commits = perStream.map((n) => new Float64Array(n).fill(NaN));
    const written = new Int32Array(matches);
    const roundTrips = new Float64Array(total);
    let issueLagMaxMs = 0;
    const intervalMs = 1000 / rate;
    const startedMs = nowMs() + 20;

    const lane = async (w: number) => {
      const client = this.connections[w]!;
      for (let k = w % matches; k < total; k++) {
        const m = k % matches;
        if (m % this.writerCount !== w) continue;
        const due = startedMs + k * intervalMs;
        const ahead = due - nowMs();
        if (ahead >= 1) await sleep(ahead);
        const issued = nowMs();
        issueLagMaxMs = Math.max(issueLagMaxMs, issued - due);
        const statement = STATEMENTS[Math.floor(k / matches) % 2]!;
        await client.query({ name: statement.name, text: statement.text, values: [this.matchIds[m]] });
        const committed = nowMs();
        commits[m]![written[m]!] = committed;
        written[m]!++;
        roundTrips[k] = committed - issued;
      }
    };
    await Promise.all(this.connections.map((_, w) => lane(w)));
    const endedMs = nowMs();

    if (emitting) {
      const after = await this.heads(streams);
      streams.forEach((stream, i) => {
        const head = after.get(stream) ?? 0;
        if (head !== firstSeq[i]! - 1 + perStream[i]!) {
          throw new Error(`${stream}: head ${head}, expected ${firstSeq[i]! - 1 + perStream[i]!}: another writer? seq prediction is void`);
        }
      });
    }
    return {
      streams,
      firstSeq,
      commits,
      committed: total,
      startedMs,
      endedMs,
      achievedRate: total / ((endedMs - startedMs) / 1000),
      issueLagMaxMs,
      commitRoundTripMs: summarize(roundTrips),
    };
  }
}
