import { closeSync, createWriteStream, openSync, type WriteStream } from 'node:fs';
import type { Logger } from '@matchcast/runtime';
import type { FeedOp } from './feed';

/**
 * Appends each operation the crawler wrote to a JSON-lines file in the replay format
 * (CRAWLER_RECORD_FILE), ids unprefixed, so the run can be replayed into another database.
 */
export class Recorder {
  private closing: Promise<void> | undefined;
  private failed = false;

  private constructor(
    readonly file: string,
    private readonly stream: WriteStream,
    private readonly logger?: Logger,
  ) {
    stream.on('error', (error) => {
      if (!this.failed) this.logger?.error({ err: error, file }, 'recording failed; no further operations are recorded');
      this.failed = true;
    });
  }

  /** Opens (creating or appending) the file now, so a bad path fails at start-up. */
  static open(file: string, logger?: Logger): Recorder {
    const fd = openSync(file, 'a');
    try {
      return new Recorder(file, createWriteStream('', { fd, autoClose: true }), logger);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  write(op: FeedOp): void {
    if (this.failed || this.closing) return;
    this.stream.write(`${JSON.stringify(op)}\n`);
  }

  /** Flushes and closes; safe to call twice. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      if (this.failed || this.stream.destroyed) return resolve();
      this.stream.end(() => resolve());
    });
    return this.closing;
  }
}
