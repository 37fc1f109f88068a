import type { Pool } from 'pg';

/** A purchase as the API and its stream carry it (matchcast_purchase_json). */
export type PurchaseJson = Record<string, unknown> & { id: string; user_id: string; status: string };

export type CreateOutcome = 'created' | 'existing' | 'key_reused' | 'no_match' | 'not_on_sale' | 'too_many_pending';
export type StatusOutcome = 'changed' | 'unchanged' | 'invalid_transition' | 'not_found';


/**
 * Reads and writes of ticket purchases. Writes go only through 006_purchases.sql's functions,
 * which decide the transitions and append each change to the purchase's stream and the buyer's
 * notifications in the same transaction.
 */
export class PurchaseStore {
  constructor(private readonly db: Pool) {}

  async create(userId: string, matchId: string, quantity: number, idempotencyKey: string | null): Promise<{ outcome: CreateOutcome; purchase: PurchaseJson | null }> {
    // The function answers a replayed key first, then refuses a match the buyer cannot see (a
    // private league's, for its members only) as no_match, as one that does not exist (023).
    const { rows } = await this.db.query<{ outcome: CreateOutcome; purchase: PurchaseJson | null }>(
      'SELECT outcome, purchase FROM matchcast_create_purchase($1, $2, $3, $4)',
      [userId, matchId, quantity, idempotencyKey],
    );
    return rows[0]!;
  }

  async setStatus(id: string, status: string): Promise<{ outcome: StatusOutcome; purchase: PurchaseJson | null }> {
    const { rows } = await this.db.query<{ outcome: StatusOutcome; purchase: PurchaseJson | null }>(
      'SELECT outcome, purchase FROM matchcast_set_purchase_status($1::bigint, $2)',
      [id, status],
    );
    return rows[0]!;
  }

  /**
   * One purchase with its stream's seq (read in the same snapshot: the client resumes
   * purchase:<id> from there), if `userId` owns it or `anyOwner` (an admin). Undefined otherwise,
   * so another user's purchase and one that never existed look the same.
   */
  async get(id: string, userId: string, anyOwner: boolean): Promise<(PurchaseJson & { stream_seq: number }) | undefined> {
    const { rows } = await this.db.query<{ purchase: PurchaseJson; stream_seq: string }>(
      `SELECT matchcast_purchase_json(p) AS purchase,
              COALESCE((SELECT last_seq FROM stream_counter WHERE stream = 'purchase:' || p.id), 0)::text AS stream_seq
         FROM purchase p WHERE p.id = $1::bigint AND (p.user_id = $2 OR $3)`,
      [id, userId, anyOwner],
    );
    const row = rows[0];
    return row && { ...row.purchase, stream_seq: Number(row.stream_seq) };
  }

  /** The user's purchases, newest first, below `beforeId` when given; one more than `limit` to tell whether another page follows. */
  async list(userId: string, limit: number, beforeId: string | null): Promise<PurchaseJson[]> {
    const { rows } = await this.db.query<{ purchase: PurchaseJson }>(
      `SELECT matchcast_purchase_json(p) AS purchase FROM purchase p
        WHERE p.user_id = $1 AND ($2::bigint IS NULL OR p.id < $2::bigint)
        ORDER BY p.id DESC LIMIT $3`,
      [userId, beforeId, limit + 1],
    );
    return rows.map((row) => row.purchase);
  }
}
