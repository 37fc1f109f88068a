#!/usr/bin/env node
/**
 * api: the stateless REST service (follows, notifications, the development sign-in).
 * Composition root: config → logger → start → signals.
 */
import { runService } from '@matchcast/runtime';
import { loadConfig } from './config';
import { startApi } from './api';

export { loadConfig, type Config } from './config';
export { startApi, type RunningApi } from './api';
export { createApp } from './app';

export async function main(): Promise<void> {
  await runService('api', () => loadConfig(), startApi, (api) => api.close());
}

if (require.main === module) void main();
