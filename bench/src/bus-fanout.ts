/**
 * `make bench-bus`: what one Redis costs as gateways are added (docs/scaling.md).
 *
 * Every gateway subscribes to the bus channel `pg_notify:events`, so Redis sends every event to
 * every gateway. This bench stands in for G gateways with G subscriber connections (no gateway
 * processes: the figure wanted is Redis's, and G real gateways would not fit on this machine),
 * publishes `--events` messages of `--size` bytes in pipelined batches, checks that every
 * subscriber received every message, and reads Redis's own CPU time (/proc) around the run.
 *
 * Two layouts per G:
 *   broadcast  one channel, every subscriber receives every event (matchcast today);
 *   sharded    G channels, subscriber i on channel i, event k on channel k mod G: each event
 *              reaches one gateway (the per-user-shard bus proposed for user events).
 *
 * Options: --gateways 1,2,4,8,16,32  --events 100000  --size 600  --batch 200  --out <dir>
 */
import { join } from 'node:path';
import { RedisServer } from '@matchcast/testkit';
import { Redis } from 'ioredis';
import { parseFlags, positiveInt, positiveInts } from './args';
import { cleanupAll, installExitHandlers, onCleanup } from './cleanup';
import { ROOT } from './infra';
import { cpuDelta, cpuTime, redisProcessId } from './proc-stats';
import { writeResults } from './report';
import { nowMs, sleep } from './stats';

type Layout = 'broadcast' | 'sharded';

interface Options {
  gateways: number[];
  events: number;
  size: number;
  batch: number;
  outDir: string;
}

interface Row {
  layout: Layout;
  gateways: number;
  events: number;
  delivered: number;
  seconds: number;
  redisCpuS: number;
  usPerEvent: number;
  usPerDelivery: number;
  /** Events/s one fully busy Redis core would carry at this cost. */
  eventsPerRedisCore: number;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { gateways: [1, 2, 4, 8, 16, 32], events: 100_000, size: 600, batch: 200, outDir: join(ROOT, 'bench', 'results') };
  parseFlags(argv, (flag, value) => {
    if (flag === '--gateways') options.gateways = positiveInts(flag, value());
    else if (flag === '--events') options.events = positiveInt(flag, value());
    else if (flag === '--size') options.size = positiveInt(flag, value());
    else if (flag === '--batch') options.batch = positiveInt(flag, value());
    else if (flag === '--out') options.outDir = value();
    else return false;
    return true;
  });
  return options;
}

async function measure(redis: RedisServer, pid: number, layout: Layout, gateways: number, options: Options): Promise<Row> {
  const channelOf = (i: number): string => (layout === 'broadcast' ? 'pg_notify:events' : `pg_notify:users:${i % gateways}`);
  const received = new Array<number>(gateways).fill(0);
  const subscribers = await Promise.all(
    Array.from({ length: gateways }, async (_, i) => {
      const subscriber = new Redis(redis.url, { lazyConnect: true });
      await subscriber.connect();
      await subscriber.subscribe(channelOf(i));
      subscriber.on('messageBuffer', () => received[i]!++);
      return subscriber;
    }),
  );
  const publisher = new Redis(redis.url);
  const payload = Buffer.alloc(options.size, 'x');
  const expected = layout === 'broadcast' ? options.events * gateways : options.events;

  const cpuBefore = cpuTime(pid);
  const started = nowMs();
  for (let sent = 0; sent < options.events; sent += options.batch) {
    const pipeline = publisher.pipeline();
    for (let k = sent; k < Math.min(sent + options.batch, options.events); k++) pipeline.publish(channelOf(k), payload);
    await pipeline.exec();
  }
  const deadline = nowMs() + 60_000;
  const total = (): number => received.reduce((a, b) => a + b, 0);
  while (total() < expected && nowMs() < deadline) await sleep(20);
  const seconds = (nowMs() - started) / 1000;
  const redisCpuS = cpuDelta(cpuBefore, cpuTime(pid)).totalS;

  await Promise.all([publisher, ...subscribers].map((client) => client.quit()));
  const delivered = total();
  if (delivered !== expected) throw new Error(`${layout} × ${gateways}: ${delivered} of ${expected} messages arrived`);
  const usPerEvent = (redisCpuS * 1e6) / options.events;
  return {
    layout,
    gateways,
    events: options.events,
    delivered,
    seconds,
    redisCpuS,
    usPerEvent,
    usPerDelivery: (redisCpuS * 1e6) / delivered,
    eventsPerRedisCore: usPerEvent > 0 ? 1e6 / usPerEvent : Infinity,
  };
}

function printTable(rows: Row[]): void {
  const header = ['layout', 'gateways', 'events', 'delivered', 'wall s', 'Redis CPU s', 'µs/event', 'µs/delivery', 'events/s per Redis core'];
  const cells = rows.map((r) => [
    r.layout,
    String(r.gateways),
    r.events.toLocaleString('en-US'),
    r.delivered.toLocaleString('en-US'),
    r.seconds.toFixed(2),
    r.redisCpuS.toFixed(2),
    r.usPerEvent.toFixed(1),
    r.usPerDelivery.toFixed(2),
    Number.isFinite(r.eventsPerRedisCore) ? Math.round(r.eventsPerRedisCore).toLocaleString('en-US') : '–',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  console.log([line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...cells.map(line)].join('\n'));
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  installExitHandlers(20 * 60_000);
  const redis = new RedisServer();
  onCleanup('redis', () => redis.destroy());
  await redis.start();
  const pid = await redisProcessId(redis.url);
  const rows: Row[] = [];
  for (const gateways of options.gateways) {
    for (const layout of ['broadcast', 'sharded'] as const) {
      if (layout === 'sharded' && gateways === 1) continue;
      rows.push(await measure(redis, pid, layout, gateways, options));
    }
  }
  printTable(rows);
  const file = writeResults(options.outDir, 'bus-fanout', { options, rows });
  console.log(`\nresults: ${file}`);
  await cleanupAll();
}

main().catch(async (error: unknown) => {
  console.error(error);
  await cleanupAll();
  process.exit(1);
});
