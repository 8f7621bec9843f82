/**
 * Call deadlines on one shared coarse timer instead of a setTimeout per call:
 * arming and clearing a Node timer costs more than a whole in-process call
 * should, and a call deadline needs millisecond precision, not microseconds.
 */

/** A scheduled expiry; pass it to {@link Deadlines.clear}. */
export interface DeadlineEntry {
  readonly at: number;
  readonly expire: () => void;
}

/** Fires each entry's `expire` within `resolution` ms after its time. */
export class Deadlines {
  readonly #pending = new Set<DeadlineEntry>();
  readonly #resolution: number;
  #timer: NodeJS.Timeout | undefined;

  /** @param resolution how late an expiry may fire, in milliseconds */
  constructor(resolution = 5) {
    this.#resolution = resolution;
  }

  /** Schedules `expire` at epoch-ms `at`. */
  add(at: number, expire: () => void): DeadlineEntry {
    const entry = { at, expire };
    this.#pending.add(entry);
    if (!this.#timer) {
      // Referenced while calls wait, so a process does not exit under a pending call.
      this.#timer = setInterval(() => this.#tick(), this.#resolution);
    }
    return entry;
  }

  /** Cancels an entry; harmless after it fired. */
  clear(entry: DeadlineEntry): void {
    this.#pending.delete(entry);
  }

  #tick(): void {
    if (this.#pending.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    const now = Date.now();
    for (const entry of this.#pending) {
      if (entry.at <= now) {
        this.#pending.delete(entry);
        entry.expire();
      }
    }
  }
}

/** The process-wide deadline timer used by clients. */
export const deadlines = new Deadlines();
