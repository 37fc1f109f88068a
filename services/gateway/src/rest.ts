import { ProtocolError } from '@matchcast/protocol';
import { Router, type Request, type Response } from 'express';
import type { Pool } from 'pg';

/**
 * Current state for a page's first paint: each match's snapshot and its stream's seq, which
 * the page then passes as `resume` when it subscribes, so no update falls between the two.
 */
export function restRoutes(db: Pool): Router {
  const router = Router();
  router.get('/api/matches', async (req: Request, res: Response) => {
    const status = typeof req.query.status === 'string' ? req.query.status.split(',') : null;
    const limit = Math.min(Number(req.query.limit) || 100, 500);
    try {
      const { rows } = await db.query(
        `SELECT matchcast_match_snapshot(m.id) AS match, 'match:' || m.id AS stream,
                COALESCE(c.last_seq, 0)::int AS seq
           FROM match m LEFT JOIN stream_counter c ON c.stream = 'match:' || m.id
          WHERE $1::text[] IS NULL OR m.status = ANY($1)
          ORDER BY (m.status IN ('live', 'half_time')) DESC, m.kickoff_at DESC
          LIMIT $2`,
        [status, limit],
      );
      res.json({ matches: rows });
    } catch (error) {
      const failure = new ProtocolError('INTERNAL', 'could not read matches', { cause: error });
      res.status(failure.httpStatus).json({ error: failure.code, message: failure.message });
    }
  });
  return router;
}
