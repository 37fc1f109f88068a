import { createHmac, timingSafeEqual } from 'node:crypto';
import { InvalidBusMessage } from '@matchcast/protocol';
import { ConfigError, type EnvReader } from './env';

const PREFIX = 'mc1.';
/** An HMAC-SHA256 in base64url, unpadded. */
const MAC_CHARS = 43;
const MIN_KEY_BYTES = 32;

/**
 * Signs what the notify-listener publishes on Redis and checks it in the gateways, with keys
 * only they hold (`BUS_SIGNING_KEYS`): whoever else can PUBLISH on that Redis — a leaked
 * password, another application sharing the server — can then forge no event and no heartbeat.
 * A signed message is `mc1.<HMAC-SHA256 of "<channel>\n<message>", base64url>.<message>`; the
 * channel is signed too, so a message cannot be moved to another channel. The first key signs
 * and every key verifies, so a key is rotated by adding the new one second, then moving it
 * first, then dropping the old one (docs/security.md, "Signed bus messages").
 */
export class BusSignature {
  private constructor(private readonly keys: readonly Buffer[]) {}

  /** From `BUS_SIGNING_KEYS` (comma-separated, each at least 32 bytes); undefined when unset (nothing signed or checked). */
  static fromEnv(env: EnvReader): BusSignature | undefined {
    // A secret, so no default: read as a plain optional string (env.list would record one).
    const value = env.optionalString('BUS_SIGNING_KEYS') ?? '';
    const keys = value.split(',').map((key) => key.trim()).filter(Boolean).map((key) => Buffer.from(key, 'utf8'));
    if (keys.length === 0) return undefined;
    if (keys.some((key) => key.length < MIN_KEY_BYTES)) {
      throw new ConfigError('BUS_SIGNING_KEYS', `needs keys of at least ${MIN_KEY_BYTES} bytes each (e.g. openssl rand -base64 48)`);
    }
    return new BusSignature(keys);
  }

  sign(channel: string, message: string): string {
    return `${PREFIX}${mac(this.keys[0]!, channel, message).toString('base64url')}.${message}`;
  }

  /** The message inside a signed one; throws InvalidBusMessage when it is unsigned or no key made its signature. */
  open(channel: string, signed: string): string {
    if (!signed.startsWith(PREFIX)) throw new InvalidBusMessage('is not signed (BUS_SIGNING_KEYS is set here)');
    const end = PREFIX.length + MAC_CHARS;
    if (signed[end] !== '.') throw new InvalidBusMessage('signature is malformed');
    const given = Buffer.from(signed.slice(PREFIX.length, end), 'base64url');
    const message = signed.slice(end + 1);
    for (const key of this.keys) {
      const expected = mac(key, channel, message);
      if (given.length === expected.length && timingSafeEqual(given, expected)) return message;
    }
    throw new InvalidBusMessage('signature does not match any of BUS_SIGNING_KEYS');
  }
}

function mac(key: Buffer, channel: string, message: string): Buffer {
  return createHmac('sha256', key).update(channel).update('\n').update(message).digest();
}
