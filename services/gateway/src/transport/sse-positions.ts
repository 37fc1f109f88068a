import { createHmac, timingSafeEqual } from 'node:crypto';
import { ID_PATTERN, ProtocolError, type OutboxEvent } from '@matchcast/protocol';

/**
 * SSE position tokens: the `id:` of every SSE event, so that a browser's own EventSource
 * reconnect (which sends the last id as Last-Event-ID) resumes every stream of the
 * connection exactly where it stopped. docs/protocol.md, "Server-Sent Events", has the format:
 *
 *   1:<mac>:<item>,<item>,...     item = m<id>~<seq36> (match:<id>) | u<id>~<seq36> (user:<id>)
 *                                        | s<ms36> (`since` for streams not listed)
 *
 * The MAC is the XOR of a keyed PRF (HMAC-SHA256, 128 bits) of every item: an incremental MAC,
 * so a delivery costs one PRF per event per gateway (shared by all its clients) and a 16-byte
 * XOR per client, never an HMAC per client. It rejects any item the gateway never issued (a
 * forged or corrupt position, another key); it does not stop splicing items the gateway did
 * issue, which gives no more than the `resume` query parameter already allows.
 */

export const TOKEN_VERSION = '1';
export interface TokenLimits {
  /** Longest token issued or accepted (default 4096): far below any HTTP header limit. */
  maxLength: number;
  /** Most stream positions in one token: the gateway's resume limit (WS_MAX_CHANNELS). */
  maxItems: number;
}
const MAC_BYTES = 16;
const MAC_CHARS = 22; // base64url of 16 bytes
const PREFIX_LENGTH = TOKEN_VERSION.length + 1 + MAC_CHARS + 1;
const ITEM_PATTERN = /^([mu])([A-Za-z0-9_.-]{1,64})~([0-9a-z]{1,11})$/;
const SINCE_PATTERN = /^s([0-9a-z]{1,11})$/;
const MAC_PATTERN = /^[A-Za-z0-9_-]{22}$/;

/** One position: its text in the token and its PRF. */
export interface TokenItem {
  readonly text: string;
  readonly prf: Buffer;
}

export interface DecodedToken {
  /** stream → seq, in the token's order (least recently active first). */
  readonly positions: Map<string, number>;
  /** The items as issued, to carry over into the new connection's token without a new PRF. */
  readonly items: Map<string, TokenItem>;
  readonly sinceMs: number | undefined;
}

const badToken = (why: string) => new ProtocolError('BAD_POSITION_TOKEN', `Last-Event-ID is not a position token this service issued (${why})`);

/** The token's text for a stream position; undefined for a stream that is not match:<id> or user:<id>. */
function itemText(stream: string, seq: number): string | undefined {
  const colon = stream.indexOf(':');
  const kind = stream.slice(0, colon);
  const id = stream.slice(colon + 1);
  if ((kind !== 'match' && kind !== 'user') || !ID_PATTERN.test(id) || !Number.isSafeInteger(seq) || seq < 0) return undefined;
  return `${kind[0]}${id}~${seq.toString(36)}`;
}

/** Issues and verifies position tokens with one key (SSE_POSITION_KEY, shared by every gateway). */
export class PositionTokens {
  /** The item of each live event, computed once however many clients receive it. */
  private readonly byEvent = new WeakMap<OutboxEvent, TokenItem | null>();

  constructor(
    private readonly key: Buffer,
    readonly limits: TokenLimits,
  ) {
    if (key.length < 32) throw new Error('the SSE position key must be at least 32 bytes');
  }

  private prf(text: string): Buffer {
    return createHmac('sha256', this.key).update(text).digest().subarray(0, MAC_BYTES);
  }

  item(stream: string, seq: number): TokenItem | undefined {
    const text = itemText(stream, seq);
    return text === undefined ? undefined : { text, prf: this.prf(text) };
  }

  /** The item for an event's position, shared by every client the event reaches. */
  eventItem(event: OutboxEvent): TokenItem | undefined {
    let item = this.byEvent.get(event);
    if (item === undefined) {
      item = this.item(event.stream, event.seq) ?? null;
      this.byEvent.set(event, item);
    }
    return item ?? undefined;
  }

  sinceItem(ms: number): TokenItem {
    const text = `s${Math.max(0, Math.floor(ms)).toString(36)}`;
    return { text, prf: this.prf(text) };
  }

  /** The token for these items (their MAC is `mac`, the XOR of their PRFs). */
  static format(mac: Buffer, texts: string): string {
    return `${TOKEN_VERSION}:${mac.toString('base64url')}:${texts}`;
  }

  /** Verifies a token; throws BAD_POSITION_TOKEN for anything this key did not issue. */
  decode(token: string): DecodedToken {
    if (token.length > this.limits.maxLength) throw badToken('too long');
    if (!token.startsWith(`${TOKEN_VERSION}:`) || token[PREFIX_LENGTH - 1] !== ':') throw badToken('unknown format');
    const macText = token.slice(TOKEN_VERSION.length + 1, PREFIX_LENGTH - 1);
    if (!MAC_PATTERN.test(macText)) throw badToken('unknown format');
    const body = token.slice(PREFIX_LENGTH);
    const texts = body === '' ? [] : body.split(',');
    if (texts.length > this.limits.maxItems + 1) throw badToken('too many positions');
    const positions = new Map<string, number>();
    const items = new Map<string, TokenItem>();
    let sinceMs: number | undefined;
    const mac = Buffer.alloc(MAC_BYTES);
    for (const text of texts) {
      const since = SINCE_PATTERN.exec(text);
      const position = since ? undefined : ITEM_PATTERN.exec(text);
      if (since) {
        // XOR cancels pairs: every item may appear once, or a forger could add any pair.
        if (sinceMs !== undefined) throw badToken('since twice');
        sinceMs = parseInt(since[1]!, 36);
      } else if (position) {
        const stream = `${position[1] === 'm' ? 'match' : 'user'}:${position[2]}`;
        if (positions.has(stream)) throw badToken('a stream twice');
        const seq = parseInt(position[3]!, 36);
        if (!Number.isSafeInteger(seq)) throw badToken('seq out of range');
        positions.set(stream, seq);
      } else {
        throw badToken('malformed position');
      }
      const prf = this.prf(text);
      xorInto(mac, prf);
      if (position) items.set(`${position[1] === 'm' ? 'match' : 'user'}:${position[2]}`, { text, prf });
    }
    // Compared as text: base64url's last character has spare bits, so only the canonical form is accepted.
    if (!timingSafeEqual(Buffer.from(mac.toString('base64url')), Buffer.from(macText))) throw badToken('signature does not match');
    return { positions, items, sinceMs };
  }
}

export function xorInto(target: Buffer, source: Buffer): void {
  for (let i = 0; i < MAC_BYTES; i++) target[i]! ^= source[i]!;
}

/**
 * One SSE connection's position in every stream it has received (or resumed, or was at when
 * it subscribed), most recently active last, and the token that names it. Kept incrementally:
 * a delivery replaces one item and XORs two PRFs into the MAC.
 */
export class ConnectionPositions {
  private readonly items = new Map<string, TokenItem>();
  /** XOR of every item's PRF. */
  private readonly mac = Buffer.alloc(MAC_BYTES);
  /** Total length of the items' texts. */
  private length = 0;
  private since: TokenItem | undefined;
  private sinceMs: number | undefined;

  constructor(
    private readonly tokens: PositionTokens,
    /** Whether the token carries `since` (the connection has channels that are not one stream, e.g. league:<id>). */
    readonly withSince: boolean,
  ) {}

  get size(): number {
    return this.items.size;
  }

  has(stream: string): boolean {
    return this.items.has(stream);
  }

  set(stream: string, item: TokenItem | undefined): void {
    if (!item) return;
    const old = this.items.get(stream);
    if (old) {
      xorInto(this.mac, old.prf);
      this.length -= old.text.length;
      this.items.delete(stream);
    }
    this.items.set(stream, item);
    xorInto(this.mac, item.prf);
    this.length += item.text.length;
  }

  /** Where streams not in the token resume from (`since`); only ever moved by its owner. */
  setSince(ms: number): void {
    if (this.sinceMs === ms) return;
    this.sinceMs = ms;
    this.since = this.tokens.sinceItem(ms);
  }

  get sinceAt(): number | undefined {
    return this.sinceMs;
  }

  /**
   * The token. Past the token limits (length, positions) it keeps the most recently active
   * streams and adds `since`: the others resume from it (possibly repeating their last seconds).
   */
  token(): string {
    const since = this.withSince ? this.since : undefined;
    const { maxLength, maxItems } = this.tokens.limits;
    const room = maxLength - PREFIX_LENGTH - (since ? since.text.length + 1 : 0);
    if (this.length + this.items.size - 1 <= room && this.items.size <= maxItems) {
      const texts = Array.from(this.items.values(), (item) => item.text);
      if (!since) return PositionTokens.format(this.mac, texts.join(','));
      texts.push(since.text);
      const mac = Buffer.from(this.mac);
      xorInto(mac, since.prf);
      return PositionTokens.format(mac, texts.join(','));
    }
    return this.truncated();
  }

  private truncated(): string {
    const since = this.since ?? this.tokens.sinceItem(Date.now());
    const mac = Buffer.from(since.prf);
    const kept: string[] = [];
    let used = PREFIX_LENGTH + since.text.length;
    const all = [...this.items.values()];
    const { maxLength, maxItems } = this.tokens.limits;
    for (let i = all.length - 1; i >= 0 && kept.length < maxItems; i--) {
      const item = all[i]!;
      if (used + 1 + item.text.length > maxLength) break;
      kept.push(item.text);
      xorInto(mac, item.prf);
      used += 1 + item.text.length;
    }
    // Least recently active first, as in a token that kept everything.
    kept.reverse().push(since.text);
    return PositionTokens.format(mac, kept.join(','));
  }
}
