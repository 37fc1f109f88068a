import type { PoolClient } from 'pg';
import type { MatchNotification } from './events';

/**
 * The next `limit` users (in user_id order, after `afterUser`) who follow the match, either
 * team or the league — each once, however many of them they follow. Each branch is its own
 * bounded range scan of follow_target_idx (kind, target_id, user_id), so a page costs
 * O(limit) whatever the number of followers: the first `limit` distinct users of the union
 * are among the first `limit` of each branch.
 */
export async function followersPage(
  client: PoolClient,
  n: Pick<MatchNotification, 'matchId' | 'homeTeamId' | 'awayTeamId' | 'leagueId'>,
  afterUser: string,
  limit: number,
): Promise<string[]> {
  const { rows } = await client.query<{ user_id: string }>(
    `SELECT DISTINCT user_id FROM (
       (SELECT user_id FROM follow WHERE kind = 'match' AND target_id = $1 AND user_id > $5 ORDER BY user_id LIMIT $6)
       UNION ALL
       (SELECT user_id FROM follow WHERE kind = 'team' AND target_id = $2 AND user_id > $5 ORDER BY user_id LIMIT $6)
       UNION ALL
       (SELECT user_id FROM follow WHERE kind = 'team' AND target_id = $3 AND user_id > $5 ORDER BY user_id LIMIT $6)
       UNION ALL
       (SELECT user_id FROM follow WHERE kind = 'league' AND target_id = $4 AND user_id > $5 ORDER BY user_id LIMIT $6)
     ) candidates
     ORDER BY user_id LIMIT $6`,
    [n.matchId, n.homeTeamId, n.awayTeamId, n.leagueId, afterUser, limit],
  );
  return rows.map((row) => row.user_id);
}

/**
 * Creates the notification for each user (and its `notification` event on user:<id>) through
 * matchcast_notify_users. Idempotent by source key: a user who already has one for this
 * outbox row is skipped, so even a lost cursor cannot notify anyone twice. Returns how many it created.
 */
export async function notifyUsers(
  client: PoolClient,
  userIds: readonly string[],
  n: MatchNotification,
  expiresAt: Date,
  sourceKey: string,
): Promise<number> {
  const { rows } = await client.query<{ created: number }>(
    `SELECT count(*)::integer AS created
       FROM matchcast_notify_users($1::text[], $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11)`,
    [userIds, n.title, n.message, n.kind, n.matchId, n.teamId, n.leagueId, JSON.stringify(n.data), n.priority, expiresAt, sourceKey],
  );
  return (rows[0] as { created: number }).created;
}
