/**
 * Call deadlines on one shared coarse timer instead of a setTimeout per call:
 * arming and clearing a Node timer costs more than a whole in-process call
 * should, and a call deadline needs millisecond precision, not microseconds.
 */

/** A scheduled expiry; pass it to {@link Deadlines.clear}. */
export interface DeadlineEntry {
  readonly at: number;
  readonly expire: () => void;
  /** False once cleared or fired. */
  active: boolean;
}

/**
 * Fires each entry's `expire` within `resolution` ms after its time. Entries sit
 * in an array and are only flagged when cleared (most calls finish long before
 * their deadline); each tick fires what is due and compacts the rest.
 */
export class Deadlines {
  #entries: DeadlineEntry[] = [];
  /** Entries neither cleared nor fired. */
  #active = 0;
  readonly #resolution: number;
  #timer: NodeJS.Timeout | undefined;

  /** @param resolution how late an expiry may fire, in milliseconds */
  constructor(resolution = 5) {
    this.#resolution = resolution;
  }

  /** How many entries are stored, cleared ones not yet compacted included. */
  get stored(): number {
    return this.#entries.length;
  }

  /** Schedules `expire` at epoch-ms `at`. */
  add(at: number, expire: () => void): DeadlineEntry {
    const entry: DeadlineEntry = { at, expire, active: true };
    // Calls that only ever await microtasks starve the timer of ticks: compact here
    // too, so cleared entries cannot pile up between ticks.
    if (this.#entries.length >= 1024 && this.#entries.length > 4 * this.#active) this.#compact();
    this.#entries.push(entry);
    this.#active++;
    if (!this.#timer) {
      // Referenced while calls wait, so a process does not exit under a pending call.
      this.#timer = setInterval(() => this.#tick(), this.#resolution);
    }
    return entry;
  }

  /** Cancels an entry; harmless after it fired. */
  clear(entry: DeadlineEntry): void {
    if (!entry.active) return;
    entry.active = false;
    this.#active--;
  }

  /** Drops cleared entries; with `now`, also takes out and returns the due ones. */
  #compact(now = Number.NEGATIVE_INFINITY): DeadlineEntry[] {
    const entries = this.#entries;
    const due: DeadlineEntry[] = [];
    let kept = 0;
    for (const entry of entries) {
      if (!entry.active) continue;
      if (entry.at <= now) {
        entry.active = false;
        this.#active--;
        due.push(entry);
      } else {
        entries[kept++] = entry;
      }
    }
    entries.length = kept;
    return due;
  }

  #tick(): void {
    const due = this.#compact(Date.now());
    if (this.#entries.length === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
    for (const entry of due) entry.expire();
  }
}

/** The process-wide deadline timer used by clients. */
export const deadlines = new Deadlines();
