/**
 * A client worker process: holds a share of the benchmark's WebSocket subscribers, records
 * the receive time of every event delivery, and reports counts and latencies to the parent
 * over IPC. Exits when the parent goes away, so no worker outlives a run.
 */
import http from 'node:http';
import WebSocket from 'ws';
import { nowMs } from '../stats';
import type { CollectCommand, Collected, ConnectCommand, WorkerCommand, WorkerReply } from './messages';
import { parseEvent, scanEvent } from './wire';

/** Recorded deliveries per worker (3 doubles each); beyond this only counts are kept. */
const MAX_RECORDS = 4_000_000;
const CHUNK = 65_536;
/** Every Nth event message is fully parsed to check the fast scan. */
const VERIFY_EVERY = 97;

interface Client {
  ws: { terminate(): void } | undefined;
  /** stream index → last seq received. */
  last: Map<number, number>;
  unique: number;
}

const streamIndex = new Map<string, number>();
const streamNames: string[] = [];
const chunks: Float64Array[] = [];
let chunkFill = CHUNK * 3;
let recorded = 0;
let unrecorded = 0;
let delivered = 0;
let duplicates = 0;
let gaps = 0;
let parseMismatches = 0;
let eventMessages = 0;
let firstReceiveMs = 0;
let lastReceiveMs = 0;
let closedDuringRun = 0;
const closeCodes: Record<string, number> = {};
let clients: Client[] = [];
let closing = false;

function send(reply: WorkerReply): void {
  process.send?.(reply);
}

function intern(stream: string): number {
  let index = streamIndex.get(stream);
  if (index === undefined) {
    index = streamNames.length;
    streamNames.push(stream);
    streamIndex.set(stream, index);
  }
  return index;
}

function onEvent(client: Client, text: string, protocol: 'matchcast' | 'socketio', at: number): void {
  const position = scanEvent(text);
  if (!position) return;
  if (++eventMessages % VERIFY_EVERY === 0) {
    const checked = parseEvent(text, protocol);
    if (checked?.stream !== position.stream || checked.seq !== position.seq) parseMismatches++;
  }
  const stream = intern(position.stream);
  const last = client.last.get(stream);
  if (last !== undefined && position.seq <= last) {
    duplicates++;
    return;
  }
  if (last !== undefined && position.seq > last + 1) gaps++;
  client.last.set(stream, position.seq);
  client.unique++;
  delivered++;
  if (firstReceiveMs === 0) firstReceiveMs = at;
  lastReceiveMs = at;
  if (recorded >= MAX_RECORDS) {
    unrecorded++;
    return;
  }
  if (chunkFill === CHUNK * 3) {
    chunks.push(new Float64Array(CHUNK * 3));
    chunkFill = 0;
  }
  const chunk = chunks[chunks.length - 1]!;
  chunk[chunkFill] = stream;
  chunk[chunkFill + 1] = position.seq;
  chunk[chunkFill + 2] = at;
  chunkFill += 3;
  recorded++;
}

/**
 * Opens one SSE client (GET /sse?channels=…) and resolves once its subscription is confirmed.
 * Reads `data:` lines only: the per-connection `id:` lines are received (their bytes count)
 * but not parsed, as a browser keeps only the last one.
 */
function openSse(command: ConnectCommand, client: Client, channels: string[], localAddress: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let subscribed = false;
    const req = http.get(`${command.url}?channels=${channels.join(',')}`, { localAddress, agent: false });
    client.ws = { terminate: () => req.destroy() };
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error('timed out before the subscription was confirmed'));
    }, command.timeoutMs);
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        clearTimeout(timer);
        res.resume();
        return reject(new Error(`HTTP ${res.statusCode}`));
      }
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        const at = nowMs();
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const dataAt = block.indexOf('data: ');
          if (dataAt < 0) continue;
          const text = block.slice(dataAt + 6);
          if (text.startsWith('{"type":"subscribed"')) {
            subscribed = true;
            clearTimeout(timer);
            resolve();
          } else if (text.startsWith('{"type":"error"')) {
            if (!subscribed) reject(new Error(text));
          } else {
            onEvent(client, text, 'matchcast', at);
          }
        }
      });
      res.on('close', () => {
        if (subscribed && !closing) {
          closedDuringRun++;
          closeCodes.sse = (closeCodes.sse ?? 0) + 1;
        }
      });
    });
    req.on('error', (error) => {
      if (!subscribed) {
        clearTimeout(timer);
        reject(error);
      }
    });
  });
}

/** Opens one client and resolves once its subscription is confirmed. */
function open(command: ConnectCommand, client: Client, channels: string[], localAddress: string): Promise<void> {
  if (command.protocol === 'sse') return openSse(command, client, channels, localAddress);
  return new Promise((resolve, reject) => {
    const url =
      command.protocol === 'socketio' ? `${command.url}/socket.io/?EIO=4&transport=websocket` : command.url;
    const ws = new WebSocket(url, { localAddress, perMessageDeflate: false, skipUTF8Validation: true, maxPayload: 1 << 20 });
    client.ws = ws;
    let subscribed = false;
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('timed out before the subscription was confirmed'));
    }, command.timeoutMs);
    const done = () => {
      subscribed = true;
      clearTimeout(timer);
      resolve();
    };
    ws.on('open', () => {
      if (command.protocol === 'matchcast') ws.send(JSON.stringify({ action: 'subscribe', channels }));
    });
    ws.on('message', (data: Buffer) => {
      const at = nowMs();
      const text = data.toString();
      if (command.protocol === 'matchcast') {
        if (text.startsWith('{"type":"subscribed"')) return done();
        if (text.startsWith('{"type":"error"')) return reject(new Error(text));
        return onEvent(client, text, 'matchcast', at);
      }
      // Engine.IO v4 over a bare WebSocket: 0 open, 2 ping, 4 message; Socket.IO 0 connect, 2 event.
      if (text.startsWith('42["message"')) return onEvent(client, text, 'socketio', at);
      if (text === '2') return ws.send('3');
      if (text.startsWith('0{')) return ws.send('40');
      if (text.startsWith('40')) return ws.send(`42${JSON.stringify(['subscribe', { channels }])}`);
      if (text.startsWith('42["subscribed"')) return done();
      if (text.startsWith('44')) return reject(new Error(`socket.io connect error ${text}`));
    });
    ws.on('error', (error) => {
      if (!subscribed) {
        clearTimeout(timer);
        reject(error);
      }
    });
    ws.on('close', (code) => {
      if (!subscribed) {
        clearTimeout(timer);
        reject(new Error(`closed with ${code} before subscribing`));
      } else if (!closing) {
        closedDuringRun++;
        closeCodes[code] = (closeCodes[code] ?? 0) + 1;
      }
    });
  });
}

async function connectAll(command: ConnectCommand): Promise<void> {
  clients = command.channels.map(() => ({ ws: undefined, last: new Map(), unique: 0 }));
  let next = 0;
  let ok = 0;
  let failed = 0;
  const errors = new Map<string, number>();
  const lane = async () => {
    while (next < clients.length) {
      const i = next++;
      try {
        await open(command, clients[i]!, command.channels[i]!, command.localAddresses[i % command.localAddresses.length]!);
        ok++;
      } catch (error) {
        failed++;
        const message = (error as Error).message;
        errors.set(message, (errors.get(message) ?? 0) + 1);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(command.concurrency, clients.length) }, lane));
  send({ type: 'connected', ok, failed, errors: [...errors].slice(0, 5).map(([m, n]) => `${n}× ${m}`) });
}

function collect(command: CollectCommand): Collected {
  const table = new Map<string, { first: number; commits: Float64Array }>();
  command.streams.forEach((name, i) => table.set(name, { first: command.firstSeq[i]!, commits: command.commits[i]! }));
  const byLocal = streamNames.map((name) => table.get(name));
  const latencies = new Float64Array(recorded);
  let count = 0;
  let unexpected = 0;
  for (let c = 0; c < chunks.length; c++) {
    const chunk = chunks[c]!;
    const fill = c === chunks.length - 1 ? chunkFill : CHUNK * 3;
    for (let i = 0; i < fill; i += 3) {
      const entry = byLocal[chunk[i]!];
      const offset = chunk[i + 1]! - (entry?.first ?? 0);
      const committed = entry && offset >= 0 && offset < entry.commits.length ? entry.commits[offset]! : NaN;
      if (!Number.isFinite(committed)) {
        unexpected++;
        continue;
      }
      latencies[count++] = chunk[i + 2]! - committed;
    }
  }
  return {
    type: 'collected',
    latencies: latencies.subarray(0, count),
    unique: Int32Array.from(clients, (client) => client.unique),
    firstReceiveMs,
    lastReceiveMs,
    duplicates,
    gaps,
    unexpected,
    parseMismatches,
    unrecorded,
    closeCodes,
  };
}

async function closeAll(): Promise<void> {
  closing = true;
  for (const client of clients) client.ws?.terminate();
  send({ type: 'closed' });
}

process.on('message', (command: WorkerCommand) => {
  try {
    switch (command.cmd) {
      case 'connect':
        void connectAll(command).catch((error: Error) => send({ type: 'error', message: error.message }));
        return;
      case 'stats':
        return send({ type: 'stats', delivered, closed: closedDuringRun });
      case 'collect':
        return send(collect(command));
      case 'close':
        void closeAll();
        return;
    }
  } catch (error) {
    send({ type: 'error', message: (error as Error).message });
  }
});
// The parent is gone (ended, crashed or killed): leave with it.
process.on('disconnect', () => process.exit(0));
