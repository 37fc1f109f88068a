import { ProtocolError } from '@matchcast/protocol';
import type { NextFunction, Request, Response } from 'express';

/**
 * Browser origins allowed to use the gateway (WS upgrade, SSE, REST). Requests without an
 * Origin header come from non-browser clients, which no Origin check can restrict anyway.
 */
export class OriginPolicy {
  /** `allowed` undefined: any origin. */
  constructor(private readonly allowed: readonly string[] | undefined) {}

  check(origin: string | undefined): void {
    if (origin === undefined || this.allowed === undefined) return;
    if (!this.allowed.includes(origin)) throw new ProtocolError('ORIGIN_NOT_ALLOWED', `origin "${origin.slice(0, 100)}" is not allowed`);
  }

  /** CORS for REST and SSE: the same list, preflights answered here, refusals with the coded body. */
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
        res.setHeader('Access-Control-Allow-Methods', 'GET, OPTIONS');
        res.setHeader('Access-Control-Allow-Headers', 'Authorization, Last-Event-ID, Content-Type');
        res.setHeader('Access-Control-Max-Age', '600');
        res.status(204).end();
        return;
      }
      next();
    };
  }
}
