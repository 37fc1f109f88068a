import { ProtocolError } from '@matchcast/protocol';
import type { NextFunction, Request, Response } from 'express';
import { ConfigError } from '../env';

/**
 * ALLOWED_ORIGINS as a list of origins compared as `scheme://host[:port]`; `*` (or an empty
 * list) allows any and gives undefined. A malformed entry fails at start-up with the variable's name.
 */
export function parseAllowedOrigins(list: readonly string[], variable = 'ALLOWED_ORIGINS'): readonly string[] | undefined {
  if (list.length === 0 || list.includes('*')) return undefined;
  return list.map((origin) => {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined || parsed.origin === 'null') throw new ConfigError(variable, `has an entry that is not an origin: "${origin}"`);
    return parsed.origin;
  });
}

export interface CorsOptions {
  /** Methods a preflight allows (default: the gateway's read-only GET). */
  methods?: readonly string[];
  /** Request headers a preflight allows. */
  headers?: readonly string[];
}

/**
 * Browser origins allowed to use a service (the gateway's WS upgrade, SSE and REST; the API).
 * Requests without an Origin header come from non-browser clients, which no Origin check can
 * restrict anyway.
 */
export class OriginPolicy {
  private readonly methods: string;
  private readonly headers: string;

  /** `allowed` undefined: any origin. */
  constructor(
    private readonly allowed: readonly string[] | undefined,
    options: CorsOptions = {},
  ) {
    this.methods = [...(options.methods ?? ['GET']), 'OPTIONS'].join(', ');
    this.headers = (options.headers ?? ['Authorization', 'Last-Event-ID', 'Content-Type']).join(', ');
  }

  check(origin: string | undefined): void {
    if (origin === undefined || this.allowed === undefined) return;
    if (!this.allowed.includes(origin)) throw new ProtocolError('ORIGIN_NOT_ALLOWED', `origin "${origin.slice(0, 100)}" is not allowed`);
  }

  /** CORS: the same list, preflights answered here, refusals with the coded body. */
  middleware() {
    return (req: Request, res: Response, next: NextFunction): void => {
      const origin = req.get('origin');
      try {
        this.check(origin);
      } catch (error) {
        const failure = ProtocolError.from(error);
        res.status(failure.httpStatus).json(failure.body());
        return;
      }
      if (origin !== undefined) {
        res.setHeader('Access-Control-Allow-Origin', this.allowed === undefined ? '*' : origin);
        res.vary('Origin');
      }
      if (req.method === 'OPTIONS') {
        res.setHeader('Access-Control-Allow-Methods', this.methods);
        res.setHeader('Access-Control-Allow-Headers', this.headers);
        res.setHeader('Access-Control-Max-Age', '600');
        res.status(204).end();
        return;
      }
      next();
    };
  }
}
