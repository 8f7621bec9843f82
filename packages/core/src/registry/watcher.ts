import { ErrorIds, unavailable } from '../errors/errors.js';
import { AsyncQueue } from '../internal/async-queue.js';
import type { WatchEvent, Watcher } from './registry.js';

/**
 * How many unread events a {@link QueueWatcher} holds by default before it fails:
 * a reader that stopped reading must not make the process's memory grow without
 * bound. Far more than one burst of changes: a registry of 1,000 services each
 * deregistering and coming back is 2,000 events.
 */
export const DEFAULT_MAX_UNREAD_EVENTS = 10_000;

/**
 * A {@link Watcher} fed by pushing events: registries translate their backend's
 * notifications and call {@link QueueWatcher.push}.
 *
 * @example
 * const watcher = new QueueWatcher(() => etcdWatch.cancel());
 * etcdWatch.on('put', (kv) => watcher.push({ action: 'create', service: decode(kv) }));
 *
 * A reader that falls `maxUnread` events behind gets a 503 instead of the events:
 * it has to list again and watch again (what `RegistrySelector` does after
 * any watch failure).
 */
export class QueueWatcher implements Watcher {
  readonly #queue = new AsyncQueue<WatchEvent>();
  readonly #onStop: (() => void) | undefined;
  readonly #maxUnread: number;
  #stoppedByReader = false;

  /**
   * @param onStop called once when the watch stops or fails, to release the backend watch
   * @param maxUnread unread events held before the watch fails
   */
  constructor(onStop?: () => void, maxUnread = DEFAULT_MAX_UNREAD_EVENTS) {
    this.#onStop = onStop;
    this.#maxUnread = maxUnread;
  }

  /** Reports a change to the reader; fails the watch when the reader is too far behind. */
  push(event: WatchEvent): void {
    if (this.#queue.ended) return;
    if (this.#queue.size >= this.#maxUnread) {
      // The queued events are useless without the ones dropped: free them at once
      this.#queue.abort(
        unavailable(
          ErrorIds.registry,
          `registry watcher fell behind: ${this.#maxUnread} events unread; list and watch again`,
        ),
      );
      this.#onStop?.();
      return;
    }
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
