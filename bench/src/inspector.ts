/**
 * A service's V8 heap through its inspector (the service runs with --inspect=127.0.0.1:<port>):
 * a full garbage collection before a memory reading, and a heap snapshot summed by what each
 * object is, so memory per connection can be broken down and not only guessed from RSS.
 */
import WebSocket from 'ws';

type Reply = { id?: number; method?: string; params?: { chunk?: string } };

/** Sends one inspector command and resolves when its reply arrives; `onEvent` sees the events before it. */
async function command(inspectPort: number, method: string, params: object = {}, onEvent?: (message: Reply) => void): Promise<void> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
  const socket = new WebSocket(targets[0]!.webSocketDebuggerUrl, { maxPayload: 1024 * 1024 * 1024 });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.once('open', () => socket.send(JSON.stringify({ id: 1, method, params })));
      socket.on('message', (raw) => {
        const message = JSON.parse(String(raw)) as Reply;
        if (message.id === 1) resolve();
        else onEvent?.(message);
      });
    });
  } finally {
    socket.close();
  }
}

/** Runs a full garbage collection in the service. */
export function collectGarbage(inspectPort: number): Promise<void> {
  return command(inspectPort, 'HeapProfiler.collectGarbage');
}

/** Bytes and object counts per kind: a constructor's name for objects, `(closure)`, `(string)`… otherwise. */
export type HeapSummary = Map<string, { bytes: number; count: number }>;

/** Takes a heap snapshot (after a full GC) and sums the self size of every node by its kind. */
export async function heapSummary(inspectPort: number): Promise<HeapSummary> {
  const chunks: string[] = [];
  await command(inspectPort, 'HeapProfiler.takeHeapSnapshot', { reportProgress: false }, (message) => {
    if (message.method === 'HeapProfiler.addHeapSnapshotChunk' && message.params?.chunk) chunks.push(message.params.chunk);
  });
  const snapshot = JSON.parse(chunks.join('')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number];
  const summary: HeapSummary = new Map();
  for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
    const type = types[snapshot.nodes[i + typeAt]!]!;
    const name = snapshot.strings[snapshot.nodes[i + nameAt]!]!;
    const kind = type === 'object' || type === 'native' ? name : `(${type})`;
    const entry = summary.get(kind) ?? { bytes: 0, count: 0 };
    entry.bytes += snapshot.nodes[i + sizeAt]!;
    entry.count += 1;
    summary.set(kind, entry);
  }
  return summary;
}
