/** A minimal typed event emitter: `on` returns the function that removes the listener. */
type AnyListener = (...args: unknown[]) => void;

export class Emitter<Events extends { [name: string]: unknown[] }> {
  private readonly listeners = new Map<keyof Events, Set<AnyListener>>();

  on<K extends keyof Events>(name: K, listener: (...args: Events[K]) => void): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    const stored = listener as unknown as AnyListener;
    set.add(stored);
    return () => void set!.delete(stored);
  }

  /** Calls every listener; a throwing listener is reported through `onListenerError`, not rethrown. */
  emit<K extends keyof Events>(name: K, ...args: Events[K]): void {
    for (const listener of [...(this.listeners.get(name) ?? [])]) {
      try {
        listener(...args);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }

  /** By default a listener's error is rethrown asynchronously, as browsers report event-handler errors. */
  onListenerError: (error: unknown) => void = (error) => {
    setTimeout(() => {
      throw error;
    });
  };

  clear(): void {
    this.listeners.clear();
  }
}
