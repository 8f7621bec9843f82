/**
 * An unbounded single-consumer queue of values with promise-based `next()`: the
 * shared mechanism behind watchers and in-process streams.
 */
export class AsyncQueue<T> {
  #items: T[] = [];
  #waiters: { resolve: (value: T) => void; reject: (error: Error) => void }[] = [];
  #error: Error | undefined;

  /** Queues a value, or hands it to a waiting `next()`. Ignored once ended. */
  push(value: T): void {
    if (this.#error) return;
    const waiter = this.#waiters.shift();
    if (waiter) waiter.resolve(value);
    else this.#items.push(value);
  }

  /** Ends the queue: values already queued are still returned, then `next()` rejects with `error`. */
  end(error: Error): void {
    if (this.#error) return;
    this.#error = error;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }

  /** Drops queued values and ends at once. */
  abort(error: Error): void {
    this.#items = [];
    this.end(error);
  }

  /** True once {@link end} or {@link abort} was called. */
  get ended(): boolean {
    return this.#error !== undefined;
  }

  /** The number of values waiting to be read. */
  get size(): number {
    return this.#items.length;
  }

  /** @returns the next value; rejects once the queue ended and is empty */
  next(): Promise<T> {
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift()!);
    if (this.#error) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }
}
