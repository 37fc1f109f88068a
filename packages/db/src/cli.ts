#!/usr/bin/env node
/** `node packages/db/dist/cli.js` — applies migrations to $DATABASE_URL. */
import pg from 'pg';
import { migrate } from './migrate';

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is required');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const applied = await migrate(client);
    console.log(JSON.stringify({ msg: 'migrations applied', applied }));
  } finally {
    await client.end();
  }
}

main().catch((error: unknown) => {
  console.error(JSON.stringify({ level: 'error', msg: 'migration failed', err: String(error), cause: String((error as Error).cause ?? '') }));
  process.exit(1);
});
