#!/usr/bin/env node
/**
 * notifier: turns match events into persisted notifications for their followers.
 * Composition root: config → logger → start (connect in the background) → signals.
 */
import { runService } from '@matchcast/runtime';
import { loadConfig } from './config';
import { startNotifier } from './notifier';

export { loadConfig, type Config } from './config';
export { startNotifier, type RunningNotifier, type NotifierStatus } from './notifier';
export { notificationFor, NOTIFICATION_KINDS, type MatchNotification, type NotificationKind } from './events';
export { NOTIFIER_LOCK_KEY } from './leadership';

export async function main(): Promise<void> {
  await runService('notifier', () => loadConfig(), startNotifier, (notifier) => notifier.close());
}

if (require.main === module) void main();
