/**
 * `make bench`: end-to-end fan-out benchmark of the real services against their own Postgres
 * and Redis on loopback. See docs/benchmarks.md for what each figure means.
 *
 * Order: notify-listener up → Redis-mode gateway (load, fanout, target-100) → peers (fanout),
 * fed from the same Redis channel → listener stopped → Postgres-mode gateway (load, target-100)
 * → NOTIFY cost. Every scenario uses the same event source: autocommit UPDATEs at a fixed
 * rate, spread over the seeded matches, each commit timed when COMMIT returns.
 */
import { mkdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { cleanupAll, installExitHandlers } from './cleanup';
import { postmasterPid, type Component } from './cpu-budget';
import { Infra, ROOT, type Service } from './infra';
import { measureNotifyCost, NOTIFY_CONDITIONS, type NotifyCostResult } from './notify-cost';
import { parseOptions, type Peer } from './options';
import { redisProcessId } from './proc-stats';
import { coresTable, fanoutRounds, notifyTable, roundsTable, scenarioTable, targetChecks, targetTable, warnings, writeResults, writeScenarioPlots } from './report';
import { startGateway, startListener, startPeer } from './servers';
import { RedisTap } from './tap';
import { runSideBySide, type ScenarioResult, type ScenarioSpec, type Target } from './scenario';
import { EventWriter } from './writer';

const log = (line: string) => console.log(line);

const PEER_NAMES: Record<Peer, string> = {
  prebuilt: 'peer: ws, frame once, raw write (floor)',
  corked: 'peer: frame once + cork per loop turn',
  ws: 'peer: ws, stringify+send per client',
  socketio: 'peer: Socket.IO + redis-adapter',
};

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2), process.env, join(ROOT, 'bench', 'results'));
  installExitHandlers(options.maxMinutes * 60_000);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const logDir = join(options.outDir, `${stamp}-logs`);
  mkdirSync(logDir, { recursive: true });
  const started = Date.now();
  log(`matchcast bench: ${options.clients} clients (${options.channel}, ${options.matches} matches), ${options.rate} events/s for ${options.seconds} s, modes ${options.modes.join('+')}; fan-out at ${options.fanoutRate} events/s with peers ${options.peers.join(',') || 'none'}`);
  log(`logs: ${logDir}`);

  const infra = await new Infra().start();
  const matchIds = await infra.seed(options.matches);
  const writer = new EventWriter(infra.postgres.url, matchIds, options.writers);
  await writer.open();
  log(`postgres ${infra.postgres.url}, redis ${infra.redis.url}, ${options.matches} live matches seeded`);

  // The default load scenario: N clients, each on its match's channel (or all), at --rate.
  const load: ScenarioSpec = {
    label: 'load',
    clients: options.clients,
    channelOf: options.channel === 'all' ? () => 'all' : (i) => `match:${matchIds[i % matchIds.length]}`,
    rate: options.rate,
    seconds: options.seconds,
    workers: options.workers,
    idleSeconds: options.idleSeconds,
  };
  // Side by side with the peers: every client on 'all' at a low rate, so each event fans out
  // to every client and per-event costs (wake-up, parse) vanish next to per-delivery costs.
  const fanout: ScenarioSpec = { ...load, label: 'fanout', channelOf: () => 'all', rate: options.fanoutRate };
  // The latency target: 100 subscribers at 1k events/s, each following one match.
  const targetSpec: ScenarioSpec = {
    label: 'target-100',
    clients: 100,
    channelOf: (i) => `match:${matchIds[i % matchIds.length]}`,
    rate: 1000,
    seconds: options.seconds,
    workers: 2,
    idleSeconds: options.idleSeconds,
  };
  const results: ScenarioResult[] = [];
  let listener: Service | undefined;
  const redisPid = await redisProcessId(infra.redis.url);
  const pgPid = postmasterPid(infra.postgres.dataDir);
  const components: Component[] = [
    { name: 'listener', pids: () => (listener?.child && listener.child.process.exitCode === null ? [listener.pid] : []) },
    { name: 'redis', pids: () => [redisPid] },
    { name: 'postgres', pids: () => [pgPid], withChildren: true },
    { name: 'bench (writer)', pids: () => [process.pid] },
  ];
  /** One scenario on one server, or on several at once (--side-by-side). */
  const measure = async (spec: ScenarioSpec, ...targets: Target[]) => {
    log(`\n▶ ${spec.label} ${targets.length === 1 ? 'on' : 'side by side:'} ${targets.map((t) => t.name).join(', ')}: ${spec.clients} clients${targets.length === 1 ? '' : ' each'}`);
    // The gateway's result first, whatever order the servers ran in (the rounds table reads it so).
    const ran = await runSideBySide(spec, targets, writer, components, log);
    const gatewayFirst = [...ran.filter((r) => r.server.startsWith('gateway')), ...ran.filter((r) => !r.server.startsWith('gateway'))];
    for (const result of gatewayFirst) {
      results.push(result);
      const redis = result.commitToRedisMs ? ` (commit→Redis p50 ${result.commitToRedisMs.p50.toFixed(2)}, p99 ${result.commitToRedisMs.p99.toFixed(2)})` : '';
      log(`  ${result.server}: p50 ${result.latencyMs?.p50.toFixed(2)} ms, p99 ${result.latencyMs?.p99.toFixed(2)} ms${redis}, ${(result.deliveredRatio * 100).toFixed(2)}% delivered, ${result.cpuPerDeliveryUs.toFixed(2)} µs CPU/delivery`);
      const k = result.kernelPerDelivery;
      log(`    idle (clients connected, no events, ${spec.idleSeconds} s): ${result.idleCpuMsPerS.toFixed(1)} ms of CPU per second`);
      log(`    per delivery: ${k.writes.toFixed(3)} write and ${k.reads.toFixed(3)} read syscalls, ${k.minorFaults.toFixed(4)} page faults, ${k.contextSwitches.toFixed(4)} context switches`);
    }
  };

  /** The gateway as its clients reach it: WebSocket, or Server-Sent Events with --transport sse. */
  const gatewayEndpoint = (name: string, port: number): Pick<Target, 'name' | 'wsUrl' | 'protocol'> =>
    options.transport === 'sse'
      ? { name: `${name} over SSE`, wsUrl: `http://127.0.0.1:${port}/sse`, protocol: 'sse' }
      : { name, wsUrl: `ws://127.0.0.1:${port}/ws`, protocol: 'matchcast' };

  let tap: RedisTap | undefined;
  const needsListener = options.modes.includes('redis') || (options.fanout && options.peers.length > 0);
  if (needsListener) {
    listener = (await startListener(infra, logDir)).service;
    tap = new RedisTap(infra.redis.url);
    await tap.start();
  }

  const redisGateway = async () => {
    const gateway = await startGateway(infra, 'redis', logDir, { maxConnections: options.clients + 1000 });
    const target: Target = { ...gatewayEndpoint('gateway (redis)', gateway.port), service: gateway.service, upstream: listener, tap };
    return { gateway, target };
  };
  const startPeerTarget = async (peer: Peer): Promise<Target> => {
    const server = await startPeer(infra, peer, logDir);
    return {
      name: PEER_NAMES[peer],
      service: server.service,
      wsUrl: peer === 'socketio' ? `ws://127.0.0.1:${server.port}` : `ws://127.0.0.1:${server.port}/ws`,
      protocol: peer === 'socketio' ? 'socketio' : 'matchcast',
      upstream: listener,
      tap,
    };
  };
  const peerFanout = async (peer: Peer) => {
    const target = await startPeerTarget(peer);
    await measure(fanout, target);
    await target.service.stop();
  };
  /**
   * A fan-out round with the gateway and every peer serving their clients at the same time. The
   * place a server starts in biases its figure (ScenarioResult.startOrder), so every second round
   * starts them in the reverse order.
   */
  const sideBySideFanout = async (round: number) => {
    const starts: (() => Promise<Target>)[] = options.peers.map((peer) => () => startPeerTarget(peer));
    if (options.modes.includes('redis')) starts.unshift(async () => (await redisGateway()).target);
    if (round % 2 === 0) starts.reverse();
    const targets: Target[] = [];
    for (const start of starts) targets.push(await start());
    await measure(fanout, ...targets);
    for (const target of targets) await target.service.stop();
  };

  if (options.modes.includes('redis')) {
    const { gateway, target } = await redisGateway();
    if (options.load) await measure(load, target);
    if (options.fanout && !options.sideBySide) await measure(fanout, target);
    if (options.target) await measure(targetSpec, target);
    await gateway.service.stop();
  }
  // The fan-out, once or --rounds times: the gateway and the peers in turn, or all at once.
  for (let round = 1; options.fanout && round <= options.rounds; round++) {
    if (options.rounds > 1) log(`\n— fan-out round ${round} of ${options.rounds}`);
    if (options.sideBySide) {
      await sideBySideFanout(round);
      continue;
    }
    if (round > 1 && options.modes.includes('redis')) {
      const { gateway, target } = await redisGateway();
      await measure(fanout, target);
      await gateway.service.stop();
    }
    for (const peer of options.peers) await peerFanout(peer);
  }
  await listener?.stop();
  if (options.modes.includes('postgres')) {
    const gateway = await startGateway(infra, 'postgres', logDir, { maxConnections: options.clients + 1000 });
    const target: Target = { ...gatewayEndpoint('gateway (postgres)', gateway.port), service: gateway.service };
    if (options.load) await measure(load, target);
    if (options.target) await measure(targetSpec, target);
    await gateway.service.stop();
  }

  let notifyCost: NotifyCostResult[] = [];
  if (options.notifyCost) {
    log(`\n▶ NOTIFY cost: closed-loop UPDATEs, ${options.notifyCostSeconds} s per condition, 1 and 4 writers`);
    await writer.close();
    notifyCost = await measureNotifyCost(infra.postgres.url, matchIds, [1, 4], options.notifyCostSeconds);
  }

  log(`\n${scenarioTable(results)}`);
  if (options.rounds > 1) log(`\nFan-out rounds: gateway CPU per delivery against each peer's, round by round\n${roundsTable(results)}`);
  log(`\nCPU cores used while events flowed (this machine has ${cpus().length})\n${coresTable(results)}`);
  if (notifyCost.length) log(`\nNOTIFY cost (commits/s a writer achieves)\n${notifyTable(notifyCost)}`);
  if (results.some((r) => r.server.startsWith('gateway'))) log(`\nPerformance targets (gateway)\n${targetTable(results)}`);
  const problems = warnings(results);
  if (problems.length) log(`\nwarnings:\n${problems.map((p) => `  ! ${p}`).join('\n')}`);
  const file = writeResults(options.outDir, stamp, {
    startedAt: new Date(started).toISOString(),
    durationS: (Date.now() - started) / 1000,
    command: `node bench/dist/run.js ${process.argv.slice(2).join(' ')}`.trim(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version },
    options,
    scenarios: results,
    fanoutRounds: fanoutRounds(results),
    notifyCost,
    notifyConditions: NOTIFY_CONDITIONS,
    targets: targetChecks(results),
    warnings: problems,
  });
  log(`\nresults: ${file} (${Math.round((Date.now() - started) / 1000)} s)`);
  if (results.length) {
    const plots = writeScenarioPlots(options.outDir, stamp, results);
    log(`plots: ${plots.join(', ')}`);
  }
}

main()
  .then(() => cleanupAll())
  .then(() => process.exit(0))
  .catch(async (error: unknown) => {
    console.error(`bench failed: ${(error as Error).stack ?? String(error)}`);
    await cleanupAll();
    process.exit(1);
  });
