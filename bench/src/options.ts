/**
 * Benchmark options, from flags (`--clients 2000`) or the environment (`BENCH_CLIENTS=2000`);
 * flags win. Every value is bounded so that a typo cannot start an unbounded run.
 */
export type BrokerMode = 'redis' | 'postgres';
export type Peer = 'prebuilt' | 'corked' | 'ws' | 'socketio';

export interface Options {
  clients: number;
  rate: number;
  seconds: number;
  modes: BrokerMode[];
  peers: Peer[];
  /** How the gateway's clients connect (the peers are WebSocket servers, always WebSocket). */
  transport: 'ws' | 'sse';
  /** What each load client subscribes to: its match's channel, or `all`. */
  channel: 'match' | 'all';
  matches: number;
  /** Client worker processes (each holds up to ~9,000 sockets). */
  workers: number;
  /** Writer connections; each owns a fixed set of matches, so its commits per stream are in order. */
  writers: number;
  /** The default load scenario: `clients` subscribers on match channels (or all) at `rate`. */
  load: boolean;
  /** The side-by-side scenario: `clients` subscribers all on `all`, at this (low) event rate. */
  fanout: boolean;
  fanoutRate: number;
  /**
   * Fan-out rounds: the gateway and each peer in turn, `rounds` times, each in a fresh process.
   * One run's figures vary by ±10 % with the machine; the median of the per-round ratios does not.
   */
  rounds: number;
  /**
   * Each fan-out round serves the gateway's and every peer's clients at the same time, from the
   * same events, instead of in turn: their figures then come from the same seconds of the machine.
   * Every second round starts the servers in the reverse order (the start order biases the figures).
   */
  sideBySide: boolean;
  /**
   * How long each scenario's servers sit with their clients connected and no events before the
   * events start: their CPU then (idleCpuMsPerS) is what each costs when nothing happens.
   */
  idleSeconds: number;
  /** Also run the latency-target check: 100 subscribers on `all`, 1k events/s, Redis mode. */
  target: boolean;
  notifyCost: boolean;
  notifyCostSeconds: number;
  outDir: string;
  /** Hard stop for the whole run. */
  maxMinutes: number;
}

const HELP = `usage: node bench/dist/run.js [options]   (or make bench BENCH_ARGS="...")
  --clients N         WebSocket subscribers per scenario (default 1000, max 19000)
  --rate N            events committed per second (default 1000)
  --seconds N         write duration per scenario (default 10)
  --mode M            redis | postgres | both (default both)
  --peers LIST        comma list of prebuilt,corked,ws,socketio, or none (default prebuilt,ws,socketio);
                      peers run in the fan-out scenario
  --transport T       ws | sse: how the gateway's clients connect (default ws; peers stay on ws)
  --channel C         match | all: what each load client subscribes to (default match)
  --matches N         matches the events are spread over (default 100: 10 subscribers per event)
  --fanout-rate N     events/s of the fan-out scenario, where every client is on 'all' (default 20)
  --rounds N          run the fan-out scenario N times, gateway and peers in turn, and report the
                      median of each round's gateway-to-peer CPU ratio (default 1)
  --side-by-side      in the fan-out scenario, run the gateway and the peers at the same time, each with
                      --clients clients of its own, instead of in turn (needs the cores for both);
                      every second round starts them in the reverse order: use an even --rounds
  --idle-seconds N    connected clients and no events for N s before each scenario's events, to measure
                      each server's CPU when nothing happens (default 2)
  --no-load           skip the load scenario (gateway only)
  --no-fanout         skip the fan-out scenario (gateway side by side with the peers)
  --workers N         client worker processes (default max(2, ceil(clients/8000)))
  --writers N         writer connections (default 4)
  --no-target         skip the 100-subscriber latency check
  --no-notify-cost    skip the NOTIFY cost measurement
  --out DIR           results directory (default bench/results)
Every flag also reads from BENCH_<NAME> (e.g. BENCH_CLIENTS=2000).`;

/** Flags that are on when given without a value (the others are on unless given as --no-<name>). */
const SWITCHES = ['side-by-side'];

function intIn(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`--${name} must be an integer in [${min}, ${max}], got "${raw}"`);
  }
  return value;
}

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv, defaultOutDir: string): Options {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--help' || arg === '-h') {
      console.log(HELP);
      process.exit(0);
    }
    if (!arg.startsWith('--')) throw new Error(`unexpected argument "${arg}"\n${HELP}`);
    const [key, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    if (key.startsWith('no-')) {
      flags.set(key.slice(3), 'false');
      continue;
    }
    if (SWITCHES.includes(key) && inline === undefined) {
      flags.set(key, 'true');
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`--${key} needs a value`);
    flags.set(key, value);
  }
  const get = (name: string): string | undefined => flags.get(name) ?? env[`BENCH_${name.toUpperCase().replace(/-/g, '_')}`];
  const known = ['load', 'fanout', 'fanout-rate', 'rounds', 'side-by-side', 'idle-seconds', 'clients', 'rate', 'seconds', 'mode', 'peers', 'transport', 'channel', 'matches', 'workers', 'writers', 'target', 'notify-cost', 'notify-cost-seconds', 'out', 'max-minutes'];
  for (const key of flags.keys()) if (!known.includes(key)) throw new Error(`unknown option --${key}\n${HELP}`);

  const clients = intIn('clients', get('clients'), 1000, 1, 19_000);
  const mode = get('mode') ?? 'both';
  if (!['redis', 'postgres', 'both'].includes(mode)) throw new Error(`--mode must be redis, postgres or both, got "${mode}"`);
  const peersRaw = get('peers') ?? 'prebuilt,ws,socketio';
  const peers = peersRaw === 'none' ? [] : peersRaw.split(',').map((p) => p.trim()).filter(Boolean);
  for (const peer of peers) if (!['prebuilt', 'corked', 'ws', 'socketio'].includes(peer)) throw new Error(`unknown peer "${peer}" (prebuilt, corked, ws, socketio)`);
  const channel = get('channel') ?? 'match';
  if (channel !== 'match' && channel !== 'all') throw new Error(`--channel must be match or all, got "${channel}"`);
  const transport = get('transport') ?? 'ws';
  if (transport !== 'ws' && transport !== 'sse') throw new Error(`--transport must be ws or sse, got "${transport}"`);
  const bool = (name: string, fallback = true) => !['false', '0', 'no', 'off'].includes((get(name) ?? String(fallback)).toLowerCase());
  const writers = intIn('writers', get('writers'), 4, 1, 32);
  return {
    clients,
    rate: intIn('rate', get('rate'), 1000, 1, 20_000),
    seconds: intIn('seconds', get('seconds'), 10, 1, 120),
    modes: mode === 'both' ? ['redis', 'postgres'] : [mode as BrokerMode],
    peers: peers as Peer[],
    transport,
    channel,
    matches: intIn('matches', get('matches'), 100, 1, 1000),
    load: bool('load'),
    fanout: bool('fanout'),
    fanoutRate: intIn('fanout-rate', get('fanout-rate'), 20, 1, 5000),
    rounds: intIn('rounds', get('rounds'), 1, 1, 20),
    sideBySide: bool('side-by-side', false),
    idleSeconds: intIn('idle-seconds', get('idle-seconds'), 2, 1, 600),
    workers: intIn('workers', get('workers'), Math.max(2, Math.ceil(clients / 8000)), 1, 16),
    writers,
    target: bool('target'),
    notifyCost: bool('notify-cost'),
    notifyCostSeconds: intIn('notify-cost-seconds', get('notify-cost-seconds'), 3, 1, 30),
    outDir: get('out') ?? defaultOutDir,
    maxMinutes: intIn('max-minutes', get('max-minutes'), 15, 1, 120),
  };
}
