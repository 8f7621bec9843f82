import { ErrorIds, unavailable } from '../errors/errors.js';
import { AsyncQueue } from '../internal/async-queue.js';
import type { WatchEvent, Watcher } from './registry.js';

/**
 * A {@link Watcher} fed by pushing events: registries translate their backend's
 * notifications and call {@link QueueWatcher.push}.
 *
 * @example
 * const watcher = new QueueWatcher(() => etcdWatch.cancel());
 * etcdWatch.on('put', (kv) => watcher.push({ action: 'create', service: decode(kv) }));
 */
export class QueueWatcher implements Watcher {
  readonly #queue = new AsyncQueue<WatchEvent>();
  readonly #onStop: (() => void) | undefined;
  #stoppedByReader = false;

  /** @param onStop called once when the watch stops or fails, to release the backend watch */
  constructor(onStop?: () => void) {
    this.#onStop = onStop;
  }

  /** Reports a change to the reader. */
  push(event: WatchEvent): void {
    this.#queue.push(event);
  }

  /** Ends the watch with an error the reader sees after the queued events. */
  fail(error: Error): void {
    if (this.#queue.ended) return;
    this.#queue.end(error);
    this.#onStop?.();
  }

  /** True once stopped or failed. */
  get stopped(): boolean {
    return this.#queue.ended;
  }

  next(): Promise<WatchEvent> {
    return this.#queue.next();
  }

  stop(): void {
    if (this.#queue.ended) return;
    this.#stoppedByReader = true;
    this.#queue.abort(unavailable(ErrorIds.registry, 'watcher stopped'));
    this.#onStop?.();
  }

  /** Yields events until {@link stop}; a registry failure is thrown. Leaving the loop stops the watch. */
  async *[Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    try {
      while (true) {
        let event: WatchEvent;
        try {
          event = await this.next();
        } catch (error) {
          if (this.#stoppedByReader) return;
          throw error;
        }
        yield event;
      }
    } finally {
      this.stop();
    }
  }
}
