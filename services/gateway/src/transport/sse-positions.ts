import { createHmac, timingSafeEqual } from 'node:crypto';
import { ID_PATTERN, ProtocolError, type OutboxEvent } from '@matchcast/protocol';

/**
 * SSE position tokens: the `id:` of every SSE event, so that a browser's own EventSource
 * reconnect (which sends the last id as Last-Event-ID) resumes every stream of the
 * connection exactly where it stopped. docs/protocol.md, "Server-Sent Events", has the format:
 *
 *   1:<mac>:<item>,<item>,...     item = m<id>~<seq36> (match:<id>) | u<id>~<seq36> (user:<id>)
 *                                        | p<id>~<seq36> (purchase:<id>) | l<id>~<seq36> (league:<id>)
 *                                        | t<id>~<seq36> (team:<id>)
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
const ITEM_PATTERN = /^([muplt])([A-Za-z0-9_.-]{1,64})~([0-9a-z]{1,11})$/;
/** The stream kind of each item letter (the kind's first letter). */
const KIND_OF_LETTER: Readonly<Record<string, string>> = { m: 'match', u: 'user', p: 'purchase', l: 'league', t: 'team' };
const SINCE_PATTERN = /^s([0-9a-z]{1,11})$/;
const MAC_PATTERN = /^[A-Za-z0-9_-]{22}$/;

/** One position: its text in the token and its PRF. */
export interface TokenItem {
  readonly text: string;
  readonly prf: Buffer;
}

export interface DecodedToken {
  /** stream → seq, in the token's order (roughly least recently active first: a new connection keeps that order). */
  readonly positions: Map<string, number>;
  /** The items as issued, to carry over into the new connection's token without a new PRF. */
  readonly items: Map<string, TokenItem>;
  readonly sinceMs: number | undefined;
}

const badToken = (why: string) => new ProtocolError('BAD_POSITION_TOKEN', `Last-Event-ID is not a position token this service issued (${why})`);

/**
 * The token's text for a stream position; undefined for a stream that is not match:<id>, user:<id>,
 * purchase:<id>, league:<id> or team:<id> (the `all` stream's position travels as `since`).
 */
function itemText(stream: string, seq: number): string | undefined {
  const colon = stream.indexOf(':');
  const kind = stream.slice(0, colon);
  const id = stream.slice(colon + 1);
  if (KIND_OF_LETTER[kind[0]!] !== kind || !ID_PATTERN.test(id) || !Number.isSafeInteger(seq) || seq < 0) return undefined;
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
        const stream = `${KIND_OF_LETTER[position[1]!]}:${position[2]}`;
        if (positions.has(stream)) throw badToken('a stream twice');
        const seq = parseInt(position[3]!, 36);
        if (!Number.isSafeInteger(seq)) throw badToken('seq out of range');
        positions.set(stream, seq);
      } else {
        throw badToken('malformed position');
      }
      const prf = this.prf(text);
      xorInto(mac, prf);
      if (position) items.set(`${KIND_OF_LETTER[position[1]!]}:${position[2]}`, { text, prf });
    }
    // Compared as text: base64url's last character has spare bits, so only the canonical form is accepted.
    if (!timingSafeEqual(Buffer.from(mac.toString('base64url')), Buffer.from(macText))) throw badToken('signature does not match');
    return { positions, items, sinceMs };
  }
}

const BASE64URL = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_', 'latin1');

/** The MAC's 22 base64url characters, written into `target` at `offset` (no string, no native call: it runs per delivery). */
function writeMac(mac: Buffer, target: Buffer, offset: number): void {
  let out = offset;
  for (let i = 0; i < 15; i += 3) {
    const n = (mac[i]! << 16) | (mac[i + 1]! << 8) | mac[i + 2]!;
    target[out++] = BASE64URL[n >> 18]!;
    target[out++] = BASE64URL[(n >> 12) & 63]!;
    target[out++] = BASE64URL[(n >> 6) & 63]!;
    target[out++] = BASE64URL[n & 63]!;
  }
  const last = mac[15]!;
  target[out++] = BASE64URL[last >> 2]!;
  target[out] = BASE64URL[(last & 3) << 4]!;
}

export function xorInto(target: Buffer, source: Buffer): void {
  for (let i = 0; i < MAC_BYTES; i++) target[i]! ^= source[i]!;
}

const ID_LINE_PREFIX = `id: ${TOKEN_VERSION}:`;
const MAC_OFFSET = ID_LINE_PREFIX.length;
/** Room always kept in the token for `since` (`s`, up to 11 base-36 digits, a comma), so that it can be added at any time. */
const SINCE_ROOM = 13;

interface Slot {
  item: TokenItem;
  /** Where the item's text is in the line (valid whenever the line is laid out). */
  offset: number;
}

/**
 * One SSE connection's positions — the streams it received (or resumed, or was at when it
 * subscribed) — and its `id:` line. Bounded by the token's limits: past them the least recently
 * active stream is dropped, and from then on the token carries `since`, from which a dropped
 * stream resumes (docs/protocol.md). So neither memory nor the cost of a delivery grows with the
 * streams a connection has seen: the event's item replaces the stream's in place (same length,
 * the common case) and two PRFs are XORed into the MAC; a new stream is appended, or takes the
 * place of the one it pushes out; the line is laid out again only when a length changes (a seq
 * grows a digit in base 36, a stream pushes out one of another length) or `since` moves.
 */
export class ConnectionPositions {
  /** Least recently active first: an update moves the stream to the end. */
  private readonly slots = new Map<string, Slot>();
  /** XOR of every item's PRF. */
  private readonly mac = Buffer.alloc(MAC_BYTES);
  /** Total length of the items' texts. */
  private length = 0;
  /** A stream was dropped: the token carries `since` from then on. */
  private dropped = false;
  private since: TokenItem | undefined;
  private sinceMs: number | undefined;
  /** `id: 1:<mac>:<items>\n`; undefined when it must be laid out again. */
  private line: Buffer | undefined;
  private macStale = true;

  constructor(
    private readonly tokens: PositionTokens,
    /** Whether the token carries `since` (the connection has channels that are not one stream, e.g. league:<id>). */
    private sinceNeeded: boolean,
  ) {}

  /** Whether the token carries `since`: the connection's channels need it, or a stream was dropped. */
  get withSince(): boolean {
    return this.sinceNeeded || this.dropped;
  }

  set withSince(needed: boolean) {
    if (needed === this.sinceNeeded) return;
    this.sinceNeeded = needed;
    this.line = undefined;
  }

  get size(): number {
    return this.slots.size;
  }

  has(stream: string): boolean {
    return this.slots.has(stream);
  }

  set(stream: string, item: TokenItem | undefined): void {
    if (!item) return;
    const slot = this.slots.get(stream);
    xorInto(this.mac, item.prf);
    this.length += item.text.length;
    this.macStale = true;
    if (!slot) {
      const added = { item, offset: -1 };
      this.slots.set(stream, added);
      if (!this.fits()) this.dropOldest(added);
      else if (this.line) this.append(added);
      return;
    }
    xorInto(this.mac, slot.item.prf);
    this.length -= slot.item.text.length;
    if (this.line && slot.item.text.length === item.text.length) this.line.write(item.text, slot.offset, 'latin1');
    else this.line = undefined;
    slot.item = item;
    this.slots.delete(stream); // and set again: the most recently active
    this.slots.set(stream, slot);
    if (!this.fits()) this.dropOldest();
  }

  /** Whether the items fit the token limits, with room for `since`. */
  private fits(): boolean {
    const { maxLength, maxItems } = this.tokens.limits;
    return this.slots.size <= maxItems && PREFIX_LENGTH + this.length + this.slots.size - 1 + SINCE_ROOM <= maxLength;
  }

  /**
   * Drops the least recently active streams until the rest fit (the newest always does); they
   * resume from `since`. A stream just added takes the place in the line of one as long as it.
   */
  private dropOldest(added?: Slot): void {
    if (!this.withSince) this.line = undefined; // `since` joins the line
    this.dropped = true;
    for (const [stream, slot] of this.slots) {
      if (this.fits()) break;
      this.slots.delete(stream);
      xorInto(this.mac, slot.item.prf);
      this.length -= slot.item.text.length;
      if (this.line && added?.offset === -1 && added.item.text.length === slot.item.text.length) {
        this.line.write(added.item.text, (added.offset = slot.offset), 'latin1');
      } else {
        this.line = undefined;
      }
    }
  }

  /** Where streams not in the token resume from (`since`); only ever moved by its owner. */
  setSince(ms: number): void {
    if (this.sinceMs === ms) return;
    this.sinceMs = ms;
    this.since = this.tokens.sinceItem(ms);
    this.line = undefined;
  }

  get sinceAt(): number | undefined {
    return this.sinceMs;
  }

  /** The token, e.g. for a test; the transport writes idLine(). */
  token(): string {
    const line = this.idLine();
    return line.toString('latin1', 4, line.length - 1);
  }

  /** `id: <token>\n`, a Buffer of its own (the socket may hold it while this one moves on). */
  idLine(): Buffer {
    const since = this.withSince ? this.since : undefined;
    if (!this.line) this.layOut(since);
    if (this.macStale) {
      const mac = since ? Buffer.from(this.mac) : this.mac;
      if (since) xorInto(mac, since.prf);
      writeMac(mac, this.line!, MAC_OFFSET);
      this.macStale = false;
    }
    return Buffer.from(this.line!);
  }

  /** `since` (if any) first, then the streams, least recently active first. */
  private layOut(since: TokenItem | undefined): void {
    const texts: string[] = since ? [since.text] : [];
    let offset = PREFIX_LENGTH + 4 + (since ? since.text.length + 1 : 0);
    for (const slot of this.slots.values()) {
      slot.offset = offset;
      texts.push(slot.item.text);
      offset += slot.item.text.length + 1;
    }
    this.line = Buffer.from(`${ID_LINE_PREFIX}${'A'.repeat(MAC_CHARS)}:${texts.join(',')}\n`, 'latin1');
    this.macStale = true;
  }

  /** A stream seen for the first time goes at the end of the line: a copy, not a new layout. */
  private append(slot: Slot): void {
    const line = this.line!;
    const first = line.length - 1 === PREFIX_LENGTH + 4;
    const tail = Buffer.from(`${first ? '' : ','}${slot.item.text}\n`, 'latin1');
    slot.offset = line.length - 1 + (first ? 0 : 1);
    this.line = Buffer.concat([line.subarray(0, line.length - 1), tail]);
  }
}
