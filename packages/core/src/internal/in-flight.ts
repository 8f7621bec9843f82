/**
 * Counts work in progress so a shutdown can wait for it: the one mechanism
 * behind graceful drains in the server and in broker plugins.
 */
export class InFlight {
  #count = 0;
  #idle: (() => void)[] = [];

  /** The number of tasks running. */
  get size(): number {
    return this.#count;
  }

  /**
   * Tracks a promise until it settles.
   * @returns the same promise
   */
  track<T>(work: Promise<T>): Promise<T> {
    const end = this.begin();
    work.then(end, end);
    return work;
  }

  /** Marks one task started; call the returned function once when it ends. */
  begin(): () => void {
    this.enter();
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.leave();
    };
  }

  /** Marks one task started, for hot paths that pair it with exactly one {@link leave}. */
  enter(): void {
    this.#count++;
  }

  /** Marks one task ended. */
  leave(): void {
    if (--this.#count === 0 && this.#idle.length > 0) {
      const idle = this.#idle;
      this.#idle = [];
      for (const resolve of idle) resolve();
    }
  }

  /**
   * Waits until nothing is running, or the time limit passes.
   * @param timeout milliseconds to wait at most; undefined waits forever
   * @returns true when idle, false when the limit passed first
   */
  drain(timeout?: number): Promise<boolean> {
    if (this.#count === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const onIdle = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.#idle.push(onIdle);
      if (timeout !== undefined) {
        timer = setTimeout(() => {
          this.#idle = this.#idle.filter((f) => f !== onIdle);
          resolve(false);
        }, timeout);
      }
    });
  }
}
