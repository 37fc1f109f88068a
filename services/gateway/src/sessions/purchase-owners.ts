import type pg from 'pg';
import type { KnownOwners } from './authorize';

/** Reads the buyers of these purchases (the ids that exist): one query for all of them. */
export type OwnerReader = (ids: readonly string[]) => Promise<Map<string, string>>;

/** Purchase ids are bigserials: decimal digits, no leading zero, within bigint. Anything else is no purchase. */
const PURCHASE_ID = /^[1-9][0-9]{0,17}$/;

/**
 * Who bought each purchase, for authorizing purchase:<id> channels: read once when a client
 * subscribes or resumes (never per delivered message) and kept in a bounded LRU. A purchase's
 * buyer never changes, so entries need no invalidation; a purchase that is not found is not
 * remembered (it may be created a moment later).
 */
export class PurchaseOwners {
  private readonly cache = new Map<string, string>();

  constructor(
    private readonly read: OwnerReader,
    private readonly capacity = 10_000,
    private readonly reads: { inc(): void } = { inc: () => undefined },
  ) {}

  /** The buyers of these ids if every one is cached (no wait: a subscribe stays in its turn), else undefined. */
  known(ids: readonly string[]): KnownOwners | undefined {
    const owners = new Map<string, string>();
    for (const id of ids) {
      const owner = this.cache.get(id);
      if (owner === undefined) {
        if (PURCHASE_ID.test(id)) return undefined;
        continue;
      }
      this.touch(id, owner);
      owners.set(id, owner);
    }
    return owners;
  }

  /** The buyers of those of these ids that exist, reading the ones not cached. */
  async load(ids: readonly string[]): Promise<KnownOwners> {
    const owners = new Map<string, string>();
    const missing: string[] = [];
    for (const id of new Set(ids)) {
      const owner = this.cache.get(id);
      if (owner !== undefined) owners.set(id, owner);
      else if (PURCHASE_ID.test(id)) missing.push(id);
    }
    if (missing.length > 0) {
      this.reads.inc();
      for (const [id, owner] of await this.read(missing)) {
        owners.set(id, owner);
        this.touch(id, owner);
      }
    }
    return owners;
  }

  private touch(id: string, owner: string): void {
    this.cache.delete(id);
    this.cache.set(id, owner);
    if (this.cache.size > this.capacity) this.cache.delete(this.cache.keys().next().value!);
  }
}

/** The reader on a connection from `run` (the gateway's pool for client-driven reads). */
export function purchaseOwnerReader(run: <T>(work: (db: pg.PoolClient) => Promise<T>) => Promise<T | undefined>): OwnerReader {
  return async (ids) => {
    const rows = await run(async (db) => (await db.query<{ id: string; user_id: string }>('SELECT id::text AS id, user_id FROM purchase WHERE id = ANY($1::bigint[])', [ids])).rows);
    return new Map((rows ?? []).map((row) => [row.id, row.user_id]));
  };
}
