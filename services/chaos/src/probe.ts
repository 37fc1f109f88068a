import type { Pool } from 'pg';

/**
 * Writes single events at chosen moments on a match of its own, which nothing else writes
 * to. The crawler's steady stream hides a class of loss: an event dropped on the way is
 * recovered as soon as a later event of the same stream reveals the seq gap. A probe event
 * written during a fault and followed by nothing is the case that must be recovered without
 * that help (a match's last event, "finished", is one in real life).
 */
export class ProbeWriter {
  constructor(
    private readonly db: Pool,
    readonly matchId = 'chaos-probe',
  ) {}

  get channel(): string {
    return `match:${this.matchId}`;
  }

  /** Creates the probe's league, teams, match and scoreboard once (idempotent). */
  async setup(): Promise<void> {
    const id = this.matchId;
    await this.db.query(
      `WITH l AS (INSERT INTO league (id, name) VALUES ($1, 'Chaos probe') ON CONFLICT (id) DO NOTHING RETURNING id)
       SELECT count(*) FROM l`,
      [id],
    );
    await this.db.query(
      `INSERT INTO team (id, league_id, name) VALUES ($1 || '-home', $1, 'Probe Home'), ($1 || '-away', $1, 'Probe Away')
       ON CONFLICT (id) DO NOTHING`,
      [id],
    );
    await this.db.query(
      `INSERT INTO match (id, league_id, home_team_id, away_team_id, kickoff_at, status)
       VALUES ($1, $1, $1 || '-home', $1 || '-away', now(), 'scheduled') ON CONFLICT (id) DO NOTHING`,
      [id],
    );
    await this.db.query(`INSERT INTO scoreboard (match_id) VALUES ($1) ON CONFLICT (match_id) DO NOTHING`, [id]);
  }

  /** Commits one event (a score change) on the probe's stream. */
  async write(): Promise<void> {
    await this.db.query('UPDATE scoreboard SET home_score = home_score + 1, updated_at = now() WHERE match_id = $1', [
      this.matchId,
    ]);
  }
}
