import { ProtocolError } from '@matchcast/protocol';
import type { NextFunction, Response } from 'express';

interface Caller {
  running: number;
  /** Each waiting request's start, in arrival order. */
  readonly waiting: Array<() => void>;
}

/**
 * How many requests of one caller (a token's subject; an anonymous caller by its address) run at
 * once; the caller's next ones wait their turn here, in the caller's own queue, at most
 * `maxWaitMs` (then 429 RATE_LIMITED). Without it every request went straight to the database
 * pool's one queue: one account with 300 requests in flight held all its connections (a follow
 * flood, each waiting on the account's own lock, held them idle), and everyone else's requests
 * waited behind them for seconds, then got 503. Now a caller holds at most `perCaller` of them.
 * A caller is forgotten once nothing of it runs or waits: memory follows the requests in flight.
 */
export class CallerSlots {
  private readonly callers = new Map<string, Caller>();

  constructor(
    private readonly perCaller: number,
    private readonly maxWaitMs: number,
  ) {}

  /** Calls next() once `key` has a free slot, which the response gives back once it is answered (res.end). */
  admit(key: string, res: Response, next: NextFunction): void {
    let caller = this.callers.get(key);
    if (!caller) this.callers.set(key, (caller = { running: 0, waiting: [] }));
    const run = caller;
    const start = () => {
      run.running++;
      // Given back when the answer is written, not when the client leaves: the request's query
      // goes on without it, and a caller that left at once and asked again ran as many as it liked.
      const end = res.end;
      let released = false;
      res.end = ((...args: Parameters<Response['end']>) => {
        try {
          return end.apply(res, args);
        } finally {
          // After the answer is on its way: the next request starts once this one is written.
          if (!released) {
            released = true;
            this.release(key, run);
          }
        }
      }) as Response['end'];
      next();
    };
    if (run.running < this.perCaller) return start();
    const leave = () => {
      clearTimeout(timer);
      res.off('close', gone);
      const at = run.waiting.indexOf(waiter);
      if (at >= 0) run.waiting.splice(at, 1);
    };
    // A caller that left while waiting: its turn is never taken.
    const gone = () => {
      leave();
      this.forgetIdle(key, run);
    };
    const waiter = () => {
      leave();
      start();
    };
    const timer = setTimeout(() => {
      leave();
      this.forgetIdle(key, run);
      next(new ProtocolError('RATE_LIMITED', `more than ${this.perCaller} of your requests at once; the next ones waited ${this.maxWaitMs} ms: slow down`));
    }, this.maxWaitMs);
    run.waiting.push(waiter);
    res.once('close', gone);
  }

  /** Callers with requests running or waiting (what it holds in memory). */
  get size(): number {
    return this.callers.size;
  }

  private release(key: string, caller: Caller): void {
    caller.running--;
    const next = caller.waiting[0];
    if (next) next();
    else this.forgetIdle(key, caller);
  }

  private forgetIdle(key: string, caller: Caller): void {
    if (caller.running === 0 && caller.waiting.length === 0 && this.callers.get(key) === caller) this.callers.delete(key);
  }
}
