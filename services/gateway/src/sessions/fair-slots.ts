/**
 * A run waiting for its slot, as seen by whoever shares its result (SharedReads): `join` gives
 * it a place in another group's queue too, and it starts in the first of their turns to come.
 */
export interface Turn {
  join(group: string): void;
}

interface Waiter {
  resolve: () => void;
  /** The groups it waits in; started once one of their turns started it. */
  groups: Set<string>;
  started: boolean;
}

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
  private readonly waiting = new Map<string, Waiter[]>();

  constructor(size: number) {
    this.free = size;
  }

  /**
   * Runs `work` in a slot, after the waiters ahead of it in the round. When it has to wait,
   * `queued` gets its Turn (before this returns), which others may join.
   */
  async run<T>(group: string, work: () => Promise<T>, queued?: (turn: Turn) => void): Promise<T> {
    await this.take(group, queued);
    try {
      return await work();
    } finally {
      this.handOn();
    }
  }

  private take(group: string, queued?: (turn: Turn) => void): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const waiter: Waiter = { resolve, groups: new Set(), started: false };
      const join = (name: string) => {
        if (waiter.started || waiter.groups.has(name)) return;
        waiter.groups.add(name);
        const queue = this.waiting.get(name);
        if (queue) queue.push(waiter);
        else this.waiting.set(name, [waiter]);
      };
      join(group);
      queued?.({ join });
    });
  }

  /** A finished run's slot goes straight to the next group in the round, or back to the free ones. */
  private handOn(): void {
    for (const [group, queue] of this.waiting) {
      this.waiting.delete(group);
      // Waiters another group's turn started already are passed over: this group's turn is not spent on them.
      let next = queue.shift();
      while (next?.started) next = queue.shift();
      if (queue.length > 0) this.waiting.set(group, queue);
      if (next) {
        next.started = true;
        next.resolve();
        return;
      }
    }
    this.free++;
  }
}
