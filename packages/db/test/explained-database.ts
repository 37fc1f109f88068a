import { migrate } from '@matchcast/db';
import { PostgresServer } from '@matchcast/testkit';
import pg from 'pg';

/**
 * A throwaway migrated database, seeded, whose connection collects the plan of every statement it
 * runs — those inside functions and triggers too — from auto_explain. `analyze` adds actual row
 * counts (the statements then run for real, as they do anyway).
 */
export class ExplainedDatabase {
  readonly db: pg.Client;
  private plans: string[] = [];

  private constructor(private readonly server: PostgresServer) {
    this.db = new pg.Client(server.url);
  }

  static async start(seed: string, options: { analyze: boolean }): Promise<ExplainedDatabase> {
    const explained = new ExplainedDatabase(await new PostgresServer().start());
    const { db } = explained;
    await db.connect();
    await migrate(db);
    await db.query(seed);
    await db.query(`LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on;
      SET auto_explain.log_analyze = ${options.analyze ? 'on' : 'off'}; SET auto_explain.log_timing = off; SET auto_explain.log_level = notice`);
    db.on('notice', (notice) => explained.plans.push(notice.message ?? ''));
    return explained;
  }

  /** The plans of what `run` did, in order. */
  async plansOf(run: () => Promise<unknown>): Promise<string[]> {
    this.plans = [];
    await run();
    return this.plans;
  }

  async stop(): Promise<void> {
    await this.db.end();
    await this.server.destroy();
  }
}
