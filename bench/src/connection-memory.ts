/**
 * `make bench-memory`: what one idle connection costs the gateway, beside the frame-once floor
 * server (bench/src/peers, PEER_FRAMING=prebuilt) in the same run, and where it goes.
 *
 * For each client count and each server, a fresh process (run with --inspect on loopback):
 * full GC and RSS; N WebSocket clients connect and subscribe to one match channel and stay idle;
 * full GC and RSS again. At --snapshot-at clients, a second fresh process is measured the same
 * way with heap snapshots instead (taking one grows the process's RSS, so the two readings are
 * never made in the same process). Reported: RSS
 * per connection, and the heap growth per connection by kind of object (constructor name,
 * closures, strings…), so what each connection holds can be named and cut.
 *
 * Options: --clients 5000,19900  --snapshot-at 5000  --gateway <another build's main.js>  --out <dir>
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseFlags, positiveInt, positiveInts } from './args';
import { cleanupAll, installExitHandlers } from './cleanup';
import { ClientPool } from './clients/pool';
import { Infra, ROOT, freePort } from './infra';
import { collectGarbage, heapSummary, type HeapSummary } from './inspector';
import { rssKb } from './proc-stats';
import { barChart } from './plot';
import { writeResults, writeSvg } from './report';
import { startGateway, startListener, startPeer, type StartedServer } from './servers';
import { sleep } from './stats';

const SERVERS = ['gateway', 'floor'] as const;
type ServerName = (typeof SERVERS)[number];
const LABELS: Record<ServerName, string> = { gateway: 'gateway (redis)', floor: 'peer: ws, frame once (floor)' };
const CHANNEL = 'match:m1';
const WORKERS = 4;
const TOP_KINDS = 14;

interface Options {
  clients: number[];
  snapshotAt: number;
  gatewayScript?: string;
  outDir: string;
}

interface Row {
  server: string;
  clients: number;
  connected: number;
  rssBeforeMb: number;
  rssAfterMb: number;
  rssPerConnectionKb: number;
  heapPerConnectionB?: number;
  /** Heap growth per connection by kind, largest first (only at --snapshot-at clients). */
  breakdown?: { kind: string; bytesPerConnection: number; objectsPerConnection: number }[];
}

function parseArgs(argv: string[]): Options {
  // 19,900 stands for 20,000: a process here may open 20,000 files (the hard limit, which root
  // cannot raise in this sandbox), and a server holds a few dozen files besides its clients.
  const options: Options = { clients: [5000, 19_900], snapshotAt: 5000, outDir: join(ROOT, 'bench', 'results') };
  parseFlags(argv, (flag, value) => {
    if (flag === '--clients') options.clients = positiveInts(flag, value());
    else if (flag === '--snapshot-at') options.snapshotAt = positiveInt(flag, value());
    else if (flag === '--gateway') options.gatewayScript = value();
    else if (flag === '--out') options.outDir = value();
    else return false;
    return true;
  });
  return options;
}

function growth(before: HeapSummary, after: HeapSummary, clients: number): NonNullable<Row['breakdown']> {
  return [...after]
    .map(([kind, now]) => {
      const was = before.get(kind) ?? { bytes: 0, count: 0 };
      return { kind, bytesPerConnection: (now.bytes - was.bytes) / clients, objectsPerConnection: (now.count - was.count) / clients };
    })
    .sort((a, b) => b.bytesPerConnection - a.bytesPerConnection);
}

async function start(server: ServerName, infra: Infra, logDir: string, clients: number, inspectPort: number, script?: string): Promise<StartedServer> {
  const nodeArgs = [`--inspect=127.0.0.1:${inspectPort}`];
  if (server === 'floor') return startPeer(infra, 'prebuilt', logDir, nodeArgs);
  return startGateway(infra, 'redis', logDir, { maxConnections: clients + 100, nodeArgs, script });
}

async function measure(server: ServerName, clients: number, infra: Infra, logDir: string, snapshot: boolean, script?: string): Promise<Row> {
  const inspectPort = await freePort();
  const started = await start(server, infra, logDir, clients, inspectPort, script);
  const pool = new ClientPool(WORKERS);
  try {
    await sleep(1000);
    await collectGarbage(inspectPort);
    const rssBefore = rssKb(started.service.pid);
    const heapBefore = snapshot ? await heapSummary(inspectPort) : undefined;
    const connect = await pool.connect(`ws://127.0.0.1:${started.port}/ws`, 'matchcast', Array.from({ length: clients }, () => [CHANNEL]));
    if (connect.ok !== clients) throw new Error(`${LABELS[server]}: ${connect.ok} of ${clients} connected (${connect.errors.slice(0, 3).join('; ')})`);
    await sleep(1000);
    await collectGarbage(inspectPort);
    const rssAfter = rssKb(started.service.pid);
    const row: Row = {
      server: LABELS[server],
      clients,
      connected: connect.ok,
      rssBeforeMb: rssBefore / 1024,
      rssAfterMb: rssAfter / 1024,
      rssPerConnectionKb: (rssAfter - rssBefore) / clients,
    };
    if (heapBefore) {
      const breakdown = growth(heapBefore, await heapSummary(inspectPort), clients);
      row.heapPerConnectionB = breakdown.reduce((sum, k) => sum + k.bytesPerConnection, 0);
      row.breakdown = breakdown.slice(0, TOP_KINDS);
    }
    return row;
  } finally {
    await pool.close();
    await started.service.child?.stop('SIGTERM', 10_000);
  }
}

function print(rows: Row[]): void {
  console.log('\nserver                          clients  RSS before → after MB  RSS KB/conn  heap B/conn');
  for (const r of rows) {
    console.log(
      `${r.server.padEnd(30)}  ${String(r.clients).padStart(7)}  ${`${r.rssBeforeMb.toFixed(1)} → ${r.rssAfterMb.toFixed(1)}`.padStart(21)}  ${r.rssPerConnectionKb.toFixed(2).padStart(11)}  ${r.heapPerConnectionB === undefined ? '–' : r.heapPerConnectionB.toFixed(0).padStart(11)}`,
    );
  }
  for (const r of rows.filter((row) => row.breakdown)) {
    console.log(`\nheap growth per connection, ${r.server}, ${r.clients} clients (bytes, objects):`);
    for (const k of r.breakdown!) console.log(`  ${k.kind.slice(0, 40).padEnd(40)} ${k.bytesPerConnection.toFixed(0).padStart(7)}  ${k.objectsPerConnection.toFixed(2).padStart(6)}`);
  }
}

/** Bars per client count, one per server: RSS per connection, and the heap growth where a snapshot was taken. */
function writePlots(outDir: string, stamp: string, rows: Row[]): string[] {
  const bars = (measured: Row[], value: (r: Row) => number) => {
    const counts = [...new Set(measured.map((r) => r.clients))];
    return {
      groups: counts.map((n) => `${n.toLocaleString('en-US')} idle clients`),
      series: SERVERS.map((server) => ({ name: LABELS[server], values: counts.map((n) => measured.find((r) => r.server === LABELS[server] && r.clients === n)).map((r) => (r ? value(r) : undefined)) })),
    };
  };
  const subtitle = `fresh process per bar, clients subscribed to ${CHANNEL}, after a full GC`;
  const files = [writeSvg(outDir, stamp, 'rss', barChart({ title: 'RSS per idle connection', subtitle, yLabel: 'RSS KB per connection', ...bars(rows, (r) => r.rssPerConnectionKb) }))];
  const snapshots = rows.filter((r) => r.heapPerConnectionB !== undefined);
  if (snapshots.length) {
    files.push(writeSvg(outDir, stamp, 'heap', barChart({ title: 'Live heap per idle connection (heap snapshots)', subtitle, yLabel: 'heap bytes per connection', ...bars(snapshots, (r) => r.heapPerConnectionB!) })));
  }
  return files;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  installExitHandlers(30 * 60_000);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const logDir = join(options.outDir, `${stamp}-memory-logs`);
  mkdirSync(logDir, { recursive: true });
  const infra = await new Infra().start();
  await infra.seed(1);
  await startListener(infra, logDir);
  const rows: Row[] = [];
  for (const clients of options.clients) {
    for (const server of SERVERS) {
      const row = await measure(server, clients, infra, logDir, false, options.gatewayScript);
      if (clients === options.snapshotAt) {
        const { heapPerConnectionB, breakdown } = await measure(server, clients, infra, logDir, true, options.gatewayScript);
        Object.assign(row, { heapPerConnectionB, breakdown });
      }
      console.log(`${row.server}, ${clients} clients: ${row.rssPerConnectionKb.toFixed(2)} KB RSS per connection`);
      rows.push(row);
    }
  }
  print(rows);
  console.log(`\nresults: ${writeResults(options.outDir, `${stamp}-memory`, { options, rows })}`);
  console.log(`plots: ${writePlots(options.outDir, `${stamp}-memory`, rows).join(', ')}`);
  await cleanupAll();
}

main().catch(async (error: unknown) => {
  console.error(error);
  await cleanupAll();
  process.exit(1);
});
