import { isIP } from 'node:net';

/**
 * Typed, validated reads of environment variables. Every service reads its config once,
 * at start-up, through these; a bad value fails fast with the variable's name in the message.
 */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`invalid configuration: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

export interface IntOptions {
  min?: number;
  max?: number;
  /** 0 is accepted besides [min, max]: it turns the thing off (an interval of 0 = never). */
  zeroIsOff?: boolean;
}

export interface ListOptions {
  /** Every entry must match this. */
  pattern?: RegExp;
  /** At least one entry (an empty value or only commas is refused, not taken as an empty list). */
  nonEmpty?: boolean;
  /** Every entry must be one of these (a well-formed name that nothing uses is a typo). */
  allowed?: readonly string[];
}

export class EnvReader {
  /** Every variable read so far with its default: the deploy checks compare these with the chart. */
  readonly read = new Map<string, string | undefined>();

  constructor(private readonly env: Env = process.env) {}

  /** The raw value, with empty strings treated as unset. */
  raw(name: string, fallback?: unknown): string | undefined {
    if (!this.read.has(name) || fallback !== undefined) {
      this.read.set(name, fallback === undefined ? undefined : Array.isArray(fallback) ? fallback.join(',') : String(fallback));
    }
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  string(name: string, fallback: string): string {
    return this.raw(name, fallback) ?? fallback;
  }

  optionalString(name: string): string | undefined {
    return this.raw(name);
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.raw(name, fallback) ?? fallback;
    if (!allowed.includes(value as T)) throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got "${value}"`);
    return value as T;
  }

  int(name: string, fallback: number, { min = 0, max = Number.MAX_SAFE_INTEGER, zeroIsOff = false }: IntOptions = {}): number {
    const value = this.raw(name, fallback);
    if (value === undefined) return fallback;
    if (!/^-?\d+$/.test(value)) throw new ConfigError(name, `must be an integer, got "${value}"`);
    const n = Number(value);
    if (zeroIsOff && n === 0) return 0;
    if (n < min || n > max) throw new ConfigError(name, `must be ${zeroIsOff ? '0 (off) or ' : ''}between ${min} and ${max}, got ${n}`);
    return n;
  }

  number(name: string, fallback: number, { min = 0, max = Number.MAX_VALUE }: IntOptions = {}): number {
    const value = this.raw(name, fallback);
    if (value === undefined) return fallback;
    // Plain decimals only, as the chart's schema takes them: Number() would also take 0x10, 0b1, 1e3 and .5.
    if (!/^-?\d+(\.\d+)?$/.test(value)) throw new ConfigError(name, `must be a decimal number, got "${value}"`);
    const n = Number(value);
    if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
    return n;
  }

  bool(name: string, fallback: boolean): boolean {
    const value = this.raw(name, fallback)?.toLowerCase();
    if (value === undefined) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(value)) return true;
    if (['0', 'false', 'no', 'off'].includes(value)) return false;
    throw new ConfigError(name, `must be true or false, got "${value}"`);
  }

  /**
   * A duration in milliseconds from `<name>` (e.g. WS_PING_INTERVAL_MS); when unset, from the
   * legacy seconds-valued variable (e.g. WS_PING_INTERVAL) if one is given.
   */
  durationMs(name: string, fallback: number, options: IntOptions & { secondsAlias?: string } = {}): number {
    const { secondsAlias, ...range } = options;
    if (this.raw(name) === undefined && secondsAlias && this.raw(secondsAlias) !== undefined) {
      const seconds = this.number(secondsAlias, 0, { min: (range.min ?? 0) / 1000, max: (range.max ?? 8.64e7) / 1000 });
      return Math.round(seconds * 1000);
    }
    return this.int(name, fallback, { max: 8.64e7, ...range });
  }

  /** A listen address: an IP address or a host name (checked as such here; that it resolves, at listen). */
  host(name: string, fallback: string): string {
    const value = this.string(name, fallback);
    if (isIP(value) === 0 && !isHostName(value)) throw new ConfigError(name, `must be an IP address or a host name, got "${value}"`);
    return value;
  }

  list(name: string, fallback: readonly string[], { pattern, nonEmpty = false, allowed }: ListOptions = {}): string[] {
    const value = this.raw(name, fallback);
    if (value === undefined) return [...fallback];
    const list = value.split(',').map((part) => part.trim()).filter(Boolean);
    if (nonEmpty && list.length === 0) throw new ConfigError(name, `must name at least one entry, got "${value}"`);
    const bad = pattern && list.find((entry) => !pattern.test(entry));
    if (bad !== undefined) throw new ConfigError(name, `has an entry that does not match ${pattern!.source}: "${bad}"`);
    const unknown = allowed && list.find((entry) => !allowed.includes(entry));
    if (unknown !== undefined) throw new ConfigError(name, `has an entry that is not one of ${allowed!.join(', ')}: "${unknown}"`);
    return list;
  }

  url(name: string, protocols: readonly string[]): string | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw new ConfigError(name, 'must be a URL');
    }
    if (!protocols.includes(parsed.protocol)) {
      throw new ConfigError(name, `must use ${protocols.join(' or ')}, got ${parsed.protocol}`);
    }
    // 'postgres:///db', 'redis://' parse, and the clients then connect to a local default (a
    // local socket or localhost) nothing meant; a socket path given as ?host= still names one.
    if (parsed.hostname === '' && !parsed.searchParams.has('host')) throw new ConfigError(name, 'must name a host');
    return value;
  }

  requiredUrl(name: string, protocols: readonly string[]): string {
    const value = this.url(name, protocols);
    if (value === undefined) throw new ConfigError(name, 'is required');
    return value;
  }
}

/**
 * Refuses two listening ports of one process set to the same number (0, a free port each, may
 * repeat): the second listen() would fail with EADDRINUSE, which names neither variable and
 * reads as another process holding the port.
 */
export function distinctPorts(ports: Record<string, number>): void {
  const seen = new Map<number, string>();
  for (const [name, port] of Object.entries(ports)) {
    const other = seen.get(port);
    if (port !== 0 && other !== undefined) throw new ConfigError(name, `must differ from ${other} (both ${port})`);
    seen.set(port, name);
  }
}

/** RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens. */
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/**
 * A last label that reads as a number: digits, 0x/0b/0o forms, or an exponent (1e3). A regular
 * expression, not Number(): the chart's values.schema.json refuses the same set with the same
 * pattern (tests/deploy/config-schema.test.ts cross-checks), and Number('1e999') is Infinity.
 */
const NUMERIC_LAST_LABEL = /(^|\.)([0-9]+([eE]-?[0-9]+)?|0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+)$/;

/**
 * A host name whose last label is not a number (RFC 3696 §2: no top-level label is all
 * digits). The resolver reads '99999', '127.1' or '0x7f.1' as IPv4 numbers (0.1.134.159,
 * 127.0.0.1...), so they listened somewhere unintended, and '1e3' failed only at listen().
 */
function isHostName(value: string): boolean {
  return HOST_NAME.test(value) && !NUMERIC_LAST_LABEL.test(value);
}

export const POSTGRES_PROTOCOLS = ['postgres:', 'postgresql:'] as const;
export const REDIS_PROTOCOLS = ['redis:', 'rediss:'] as const;

/** Removes the password from a connection URL so it can be logged. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparseable url>';
  }
}
