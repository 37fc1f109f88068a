/**
 * A fixed number of slots for work that callers wait for in groups (a client's address group),
 * served in turns: when a slot frees, the group at the head of the round goes next and, if it
 * still waits for more, moves to the back. One address with a thousand queued resumes holds a
 * bystander's back by one turn, not by a thousand (a FIFO queue such as the pool's own did:
 * 950 connections from one address held another client's resume 1.0–1.8 s).
 */
export class FairSlots {
  private free: number;
  /** The waiters of each group, in arrival order; the map's order is the round's. */
  private readonly waiting = new Map<string, (() => void)[]>();

  constructor(size: number) {
    this.free = size;
  }

  /** Runs `work` in a slot, after the waiters ahead of it in the round. */
  async run<T>(group: string, work: () => Promise<T>): Promise<T> {
    await this.take(group);
    try {
      return await work();
    } finally {
      this.handOn();
    }
  }

  private take(group: string): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const queue = this.waiting.get(group);
      if (queue) queue.push(resolve);
      else this.waiting.set(group, [resolve]);
    });
  }

  /** A finished run's slot goes straight to the next group in the round, or back to the free ones. */
  private handOn(): void {
    const next = this.waiting.entries().next();
    if (next.done) {
      this.free++;
      return;
    }
    const [group, queue] = next.value;
    this.waiting.delete(group);
    const resolve = queue.shift()!;
    if (queue.length > 0) this.waiting.set(group, queue);
    resolve();
  }
}
