/**
 * Direct SQL writes for the client schedules: two leagues of three matches each (new ids per
 * run), created while the clients listen, then a steady stream of transactions — score and
 * clock updates, football events, and status changes along a real match's life (scheduled →
 * live → half_time → live → finished, never back), so that `live:all` sees streams arrive
 * and leave. Choices come from a seeded generator; timing is the machine's.
 */
import type pg from 'pg';
import { mulberry32 } from '../../../services/crawler/src/sources/prng';

type Phase = 'scheduled' | 'first_half' | 'half_time' | 'second_half' | 'finished';

export class MatchWriter {
  readonly leagues: string[];
  readonly matches: string[] = [];
  private readonly phase = new Map<string, Phase>();
  private readonly minute = new Map<string, number>();
  private readonly random: () => number;
  private running = false;
  private loop: Promise<void> | undefined;
  transactions = 0;
  failures = 0;

  constructor(
    private readonly pool: pg.Pool,
    readonly prefix: string,
    seed: number,
    private readonly pauseMs = 12,
  ) {
    this.random = mulberry32(seed);
    this.leagues = [`${prefix}-l1`, `${prefix}-l2`];
  }

  /** The streams this run writes: its matches', and its leagues' own (their league tables). */
  get streams(): string[] {
    return [...this.matches.map((id) => `match:${id}`), ...this.leagues.map((id) => `league:${id}`)];
  }

  async setup(): Promise<void> {
    for (const [li, league] of this.leagues.entries()) {
      await this.pool.query(`INSERT INTO league (id, name) VALUES ($1, $2)`, [league, `League ${li + 1}`]);
      await this.pool.query(`INSERT INTO team (id, league_id, name) VALUES ($1, $3, 'Home'), ($2, $3, 'Away')`, [`${league}-h`, `${league}-a`, league]);
      for (let i = 1; i <= 3; i++) {
        const id = `${league}-m${i}`;
        // The first match of each league starts live at once; the others are scheduled.
        const status = i === 1 ? 'live' : 'scheduled';
        await this.pool.query(
          `INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at, status) VALUES ($1, $2, $3, $4, now(), $5)`,
          [id, league, `${league}-h`, `${league}-a`, status],
        );
        await this.pool.query(`INSERT INTO scoreboard (match_id) VALUES ($1)`, [id]);
        await this.pool.query(`INSERT INTO gameclock (match_id) VALUES ($1)`, [id]);
        this.matches.push(id);
        this.phase.set(id, status === 'live' ? 'first_half' : 'scheduled');
        this.minute.set(id, 0);
      }
    }
  }

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        try {
          await this.step();
          this.transactions++;
        } catch {
          this.failures++;
        }
        await new Promise((resolve) => setTimeout(resolve, this.pauseMs));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }

  /** One transaction: usually one update, sometimes two matches at once. */
  private async step(): Promise<void> {
    const first = this.pick(this.matches);
    const statements: [string, unknown[]][] = [this.change(first)];
    if (this.random() < 0.2) statements.push(this.change(this.pick(this.matches)));
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      for (const [sql, params] of statements) await client.query(sql, params);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  private change(match: string): [string, unknown[]] {
    const phase = this.phase.get(match)!;
    const r = this.random();
    // Status changes are rare, and follow the match's life.
    if (r < 0.04) {
      const next: Record<Phase, Phase> = {
        scheduled: 'first_half', first_half: 'half_time', half_time: 'second_half', second_half: 'finished', finished: 'finished',
      };
      const to = next[phase];
      if (to !== phase) {
        this.phase.set(match, to);
        const status = to === 'half_time' ? 'half_time' : to === 'finished' ? 'finished' : 'live';
        return [`UPDATE match SET status = $2, updated_at = now() WHERE id = $1`, [match, status]];
      }
    }
    if (r < 0.15) {
      const minute = this.minute.get(match)!;
      return [
        `INSERT INTO football_event (match_id, minute, type, team, player) VALUES ($1, $2, $3, $4, $5)`,
        [match, minute, this.pick(['goal', 'yellow_card', 'substitution', 'var']), this.pick(['home', 'away']), `p${Math.floor(this.random() * 22)}`],
      ];
    }
    if (r < 0.55) {
      const side = this.random() < 0.5 ? 'home_score' : 'away_score';
      return [`UPDATE scoreboard SET ${side} = ${side} + 1, updated_at = now() WHERE match_id = $1`, [match]];
    }
    const minute = this.minute.get(match)! + 1;
    this.minute.set(match, minute);
    return [`UPDATE gameclock SET minute = $2, updated_at = now() WHERE match_id = $1`, [match, minute]];
  }
}
