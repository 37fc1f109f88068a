#!/usr/bin/env node
/**
 * notify-listener: forwards Postgres NOTIFY to Redis. Composition root:
 * config → logger → start (connect in the background) → signals.
 */
import { runService } from '@matchcast/runtime';
import { loadConfig } from './config';
import { startListener } from './listener';

export { loadConfig, type Config } from './config';
export { startListener, type RunningListener, type ListenerStatus } from './listener';

export async function main(): Promise<void> {
  await runService('notify-listener', () => loadConfig(), startListener, (listener) => listener.close());
}

if (require.main === module) void main();
