/**
 * Replays a JSON-lines feed of operations (the format CRAWLER_RECORD_FILE writes).
 *
 * Format: one operation per line (see feed.ts); blank lines and lines starting with `#` are
 * ignored. `at_ms` is the line's offset from the start of the feed; a line without it follows
 * the previous line at once, and an offset smaller than an earlier one is treated as equal to
 * it (the feed never waits backwards). Speed 1 keeps the recorded timing, 2 plays twice as
 * fast, 0 as fast as the database allows.
 *
 * Invalid lines: ReplaySource.open() checks the whole file before anything is written, and
 * fails with FEED_INVALID naming `<file>:<line>` and the problem. A feed is all or nothing:
 * skipping a line (a fixture, say) would make every later line of that match fail too.
 */
import { createReadStream } from 'node:fs';
import { access, constants, stat } from 'node:fs/promises';
import { createInterface, type Interface } from 'node:readline';
import { CrawlerError } from '../errors';
import { parseFeedLine, type FeedOp } from '../feed';
import { Pacer } from './pacer';
import type { FeedSource } from './source';

export interface ReplayOptions {
  speed: number;
}

/** Reads and validates every line; returns the number of operations. Throws the first error. */
export async function checkFeedFile(file: string): Promise<number> {
  let count = 0;
  for await (const op of readFeed(file)) if (op) count++;
  return count;
}

/** The operations of a feed file in order, validated line by line (FeedError names the line). */
export async function* readFeed(file: string): AsyncGenerator<FeedOp, void, void> {
  const lines = await openLines(file);
  let lineNumber = 0;
  try {
    for await (const line of lines) {
      lineNumber++;
      const op = parseFeedLine(line, lineNumber, file);
      if (op) yield op;
    }
  } finally {
    lines.close();
  }
}

async function openLines(file: string): Promise<Interface> {
  try {
    await access(file, constants.R_OK);
  } catch (error) {
    throw new CrawlerError('FEED_UNREADABLE', `cannot read feed file ${file}: ${(error as Error).message}`, { cause: error });
  }
  // A directory passes the check above, and its read fails with a bare EISDIR naming nothing.
  if (!(await stat(file)).isFile()) throw new CrawlerError('FEED_UNREADABLE', `cannot read feed file ${file}: not a file`);
  const stream = createReadStream(file, { encoding: 'utf8' });
  stream.on('error', () => undefined); // surfaced through the readline iterator
  return createInterface({ input: stream, crlfDelay: Infinity });
}

export class ReplaySource implements FeedSource {
  readonly name = 'replay';
  private readonly ops: AsyncGenerator<FeedOp, void, void>;
  private offset = 0;

  private constructor(
    readonly file: string,
    readonly operations: number,
    private readonly pacer: Pacer,
  ) {
    this.ops = readFeed(file);
  }

  /** Checks the whole feed first (see the rule above), then opens it for replay. */
  static async open(file: string, options: ReplayOptions): Promise<ReplaySource> {
    const operations = await checkFeedFile(file);
    return new ReplaySource(file, operations, new Pacer(options.speed));
  }

  async next(signal: AbortSignal): Promise<FeedOp | undefined> {
    if (signal.aborted) return undefined;
    const result = await this.ops.next();
    if (result.done) return undefined;
    const op = result.value;
    if (op.at_ms !== undefined) this.offset = Math.max(this.offset, op.at_ms);
    await this.pacer.waitUntil(this.offset, signal);
    return signal.aborted ? undefined : op;
  }

  async close(): Promise<void> {
    await this.ops.return();
  }
}
