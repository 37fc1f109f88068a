import type { Pool } from 'pg';
import { sleep } from '@matchcast/runtime';

/**
 * The channel sets of the runner's clients, picked from what the crawler is writing: the
 * firehoses (`all`, `live:all`), whole leagues, and single matches and a team, so every kind
 * of channel and many streams are covered. Two `all` clients so that, with one client per
 * gateway in turn, every gateway serves a firehose.
 */
export async function clientChannelSets(db: Pool, exclude: readonly string[] = [], timeoutMs = 30_000): Promise<string[][]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await db.query<{ id: string; league_id: string; home_team_id: string }>(
      `SELECT id, league_id, home_team_id FROM match WHERE id <> ALL($1)
        ORDER BY (status IN ('live', 'half_time')) DESC, updated_at DESC LIMIT 3`,
      [exclude],
    );
    if (rows.length > 0) {
      const [m1, m2, m3] = [rows[0]!, rows[1] ?? rows[0]!, rows[2] ?? rows[0]!];
      const leagues = [...new Set(rows.map((row) => row.league_id))];
      const { rows: others } = await db.query<{ id: string }>(
        'SELECT id FROM league WHERE id <> ALL($1) ORDER BY id LIMIT 1',
        [[...leagues, ...exclude]],
      );
      const secondLeague = leagues[1] ?? others[0]?.id ?? leagues[0]!;
      return [
        ['all'],
        ['all'],
        ['live:all'],
        [`league:${leagues[0]}`],
        [`league:${secondLeague}`, `match:${m3.id}`],
        [`match:${m1.id}`, `match:${m2.id}`, `team:${m1.home_team_id}`],
      ];
    }
    if (Date.now() > deadline) throw new Error('no matches in the database: is the crawler writing?');
    await sleep(250);
  }
}
