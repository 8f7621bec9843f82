import { errorMessage } from '../errors/errors.js';
import type { Logger } from '../logger/logger.js';
import type { Registry, WatchEvent, Watcher } from './registry.js';

const RETRY_MIN = 1_000;
const RETRY_MAX = 30_000;

/** Options of a {@link RetryingWatch}. */
export interface RetryingWatchOptions {
  /** Watch one service; all of them when unset. */
  service?: string;
  /** Each change, in order. */
  onEvent(event: WatchEvent): void;
  /**
   * Changes may have been missed: a running watch ended, or one is about to start
   * again. Whatever was kept current by the watch is stale now.
   */
  onGap(): void;
  /** Where a failed or ended watch is logged. */
  logger: Logger;
  /** Who watches, at the start of each log line (`selector`, `http broker`). */
  name: string;
}

/**
 * A registry watch that stays up: started on first use, and after it fails to
 * start or ends, started again after a delay that doubles from 1 s up to 30 s
 * while the registry keeps failing. The one mechanism behind every cache that a
 * registry watch keeps current (the selector's, the HTTP broker's).
 */
export class RetryingWatch {
  readonly #registry: Registry;
  readonly #options: RetryingWatchOptions;
  #starting: Promise<void> | undefined;
  #watcher: Watcher | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryDelay = RETRY_MIN;
  #stopped = false;

  constructor(registry: Registry, options: RetryingWatchOptions) {
    this.#registry = registry;
    this.#options = options;
  }

  /** True while a watch runs, so changes arrive as they happen. */
  get active(): boolean {
    return this.#watcher !== undefined;
  }

  /**
   * Starts the watch unless it runs or is starting.
   * @returns resolves once the watch runs, or has failed to start (it then retries by itself)
   */
  start(): Promise<void> {
    const { service } = this.#options;
    this.#starting ??= this.#registry.watch(service === undefined ? undefined : { service }).then(
      (watcher) => {
        if (this.#stopped) {
          watcher.stop();
          return;
        }
        this.#watcher = watcher;
        this.#retryDelay = RETRY_MIN;
        void this.#consume(watcher);
      },
      (error: unknown) => {
        this.#options.logger.warn(`${this.#options.name}: registry watch failed`, {
          error: errorMessage(error),
        });
        this.#retry();
      },
    );
    return this.#starting;
  }

  /** Stops the watch and any retry. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    this.#watcher?.stop();
  }

  async #consume(watcher: Watcher): Promise<void> {
    try {
      for await (const event of watcher) this.#options.onEvent(event);
    } catch (error) {
      if (this.#stopped) return;
      this.#options.logger.warn(`${this.#options.name}: registry watch ended; watching again`, {
        error: errorMessage(error),
      });
    }
    if (this.#stopped) return;
    this.#watcher = undefined;
    this.#options.onGap();
    this.#retry();
  }

  #retry(): void {
    if (this.#stopped) return;
    const delay = this.#retryDelay;
    this.#retryDelay = Math.min(delay * 2, RETRY_MAX);
    this.#retryTimer = setTimeout(() => {
      this.#starting = undefined;
      this.#options.onGap();
      void this.start();
    }, delay);
    this.#retryTimer.unref();
  }
}
