/**
 * Reading (stream, seq) out of a delivered message without a full JSON.parse: in both
 * protocols the event object ends with …"stream":"<s>","seq":<n>,"id":"<id>"} (the protocol's
 * field order, stream/seq/id last), so a scan from the end finds them. The client side
 * must stay cheap: on a small machine the clients, not the server, saturate first.
 * A sample of messages is fully parsed to check the scan (Collected.parseMismatches).
 */
export interface EventPosition {
  stream: string;
  seq: number;
}

export function scanEvent(text: string): EventPosition | undefined {
  const seqAt = text.lastIndexOf(',"seq":');
  if (seqAt < 0) return undefined;
  const streamAt = text.lastIndexOf('"stream":"', seqAt);
  if (streamAt < 0) return undefined;
  const streamEnd = text.indexOf('"', streamAt + 10);
  let seq = 0;
  let digits = 0;
  for (let i = seqAt + 7; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) break;
    seq = seq * 10 + (c - 48);
    digits++;
  }
  if (digits === 0 || streamEnd < 0) return undefined;
  return { stream: text.slice(streamAt + 10, streamEnd), seq };
}

/** The slow, certain way, for the sample check. */
export function parseEvent(text: string, protocol: 'matchcast' | 'socketio'): EventPosition | undefined {
  const value: unknown = protocol === 'socketio' ? (JSON.parse(text.slice(2)) as unknown[])[1] : JSON.parse(text);
  if (!value || typeof value !== 'object') return undefined;
  const { stream, seq } = value as { stream?: unknown; seq?: unknown };
  return typeof stream === 'string' && typeof seq === 'number' ? { stream, seq } : undefined;
}
