/**
 * A registry watch on Consul blocking queries: one on the catalog's service list
 * (to learn of services appearing and disappearing) and one on the health of each
 * service. Each answer is diffed against the node set last seen, so the reader
 * gets go-micro's create/update/delete per node, and a restarted or briefly
 * unreachable Consul is caught up with by diffing its first answer afterwards.
 */
import { EventEmitter } from 'node:events';
import {
  backoffDelay,
  ErrorIds,
  isMicroError,
  type Logger,
  normalizeService,
  QueueWatcher,
  type Service,
  sleep,
  unavailable,
  type WatchAction,
} from '@micro/core';
import type { ConsulClient, HealthEntry } from './client.js';
import { entryToService, isCritical } from './entries.js';

/** What a watch needs from its registry. */
export interface WatchSettings {
  client: ConsulClient;
  /** Budget for the first snapshot and added to each blocking query's wait. */
  timeout: number;
  /** How long Consul may hold one blocking query, in milliseconds. */
  wait: number;
  logger: Logger;
}

interface NodeState {
  /** The service with this one node, as decoded. */
  service: Service;
  /** Its JSON, to tell an update from an unchanged node. */
  key: string;
}

type Cancel = EventEmitter & { canceled?: boolean };

interface Loop {
  /** Consul's index of the last answer; 0 asks for an immediate answer. */
  index: bigint;
  cancel: Cancel;
  abort: AbortController;
  stopped: boolean;
}

interface ServiceState extends Loop {
  name: string;
  nodes: Map<string, NodeState>;
}

/** How many services the first snapshot reads at once. */
const SNAPSHOT_CONCURRENCY = 8;
/** Pause when Consul answers at once without a change (it should block). */
const IDLE_PAUSE = 1_000;
const BACKOFF = { base: 250, max: 5_000 };

function newLoop(): Loop {
  return { index: 0n, cancel: new EventEmitter(), abort: new AbortController(), stopped: false };
}

function stopLoop(loop: Loop): void {
  if (loop.stopped) return;
  loop.stopped = true;
  loop.abort.abort();
  loop.cancel.canceled = true;
  loop.cancel.emit('cancel');
}

/**
 * Consul's rules for the next index: reset to 0 when it went backwards (a
 * restarted or different server) or is missing.
 */
function nextIndex(previous: bigint, received: bigint | undefined): bigint {
  if (received === undefined || received <= 0n || received < previous) return 0n;
  return received;
}

async function eachLimit<T>(
  items: readonly T[],
  limit: number,
  run: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await run(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** One `registry.watch()`: owns its blocking queries and the watcher it feeds. */
export class ConsulWatch {
  /** What the reader iterates. */
  readonly watcher: QueueWatcher;
  readonly #settings: WatchSettings;
  readonly #service: string | undefined;
  readonly #services = new Map<string, ServiceState>();
  readonly #catalog: Loop = newLoop();
  readonly #onStop: () => void;
  #stopped = false;

  /**
   * @param settings client, timeouts and logger
   * @param service watch only this service; all when undefined
   * @param onStop called once when the watch stops
   */
  constructor(settings: WatchSettings, service: string | undefined, onStop: () => void) {
    this.#settings = settings;
    this.#service = service;
    this.#onStop = onStop;
    this.watcher = new QueueWatcher(() => this.stop());
  }

  /**
   * Takes the first snapshot (no events for what already exists), then starts
   * the blocking queries.
   * @throws {@link MicroError} 503 when Consul does not answer within the timeout
   */
  async start(): Promise<void> {
    const deadline = Date.now() + this.#settings.timeout;
    const states: ServiceState[] = [];
    try {
      let names: string[];
      if (this.#service !== undefined) {
        names = [this.#service];
      } else {
        const { body, index } = await this.#settings.client.catalogServices({
          deadline,
          cancel: this.#catalog.cancel,
        });
        this.#catalog.index = nextIndex(0n, index);
        names = Object.keys(body);
      }
      for (const name of names) states.push(this.#track(name));
      await eachLimit(states, SNAPSHOT_CONCURRENCY, (state) =>
        this.#read(state, { deadline, emit: false }),
      );
    } catch (error) {
      const stoppedMeanwhile = this.#stopped;
      this.stop();
      if (isMicroError(error)) throw error;
      throw unavailable(
        ErrorIds.registry,
        stoppedMeanwhile ? 'consul watch stopped while starting' : `consul watch: ${String(error)}`,
        error,
      );
    }
    if (this.#stopped) throw unavailable(ErrorIds.registry, 'consul watch stopped while starting');
    for (const state of states) void this.#serviceLoop(state);
    if (this.#service === undefined) void this.#catalogLoop();
  }

  /** Cancels every blocking query and ends the watcher. Idempotent. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    stopLoop(this.#catalog);
    for (const state of this.#services.values()) stopLoop(state);
    this.#services.clear();
    this.watcher.stop();
    this.#onStop();
  }

  /** The first blocking-query deadline: Consul may add up to wait/16 of jitter. */
  #queryDeadline(): number {
    const { wait, timeout } = this.#settings;
    return Date.now() + wait + wait / 16 + timeout;
  }

  #track(name: string): ServiceState {
    const state: ServiceState = { ...newLoop(), name, nodes: new Map() };
    this.#services.set(name, state);
    return state;
  }

  /** The service left the catalog: its nodes are gone. */
  #untrack(state: ServiceState): void {
    stopLoop(state);
    this.#services.delete(state.name);
    for (const node of state.nodes.values()) this.#emit('delete', node.service);
    state.nodes.clear();
  }

  async #read(
    state: ServiceState,
    options: { deadline: number; emit: boolean; wait?: number },
  ): Promise<void> {
    const { body, index } = await this.#settings.client.healthService(state.name, {
      index: state.index,
      wait: options.wait,
      deadline: options.deadline,
      cancel: state.cancel,
    });
    if (state.stopped || this.#stopped) return;
    state.index = nextIndex(state.index, index);
    this.#apply(state, body, options.emit);
  }

  /** Diffs one health answer against the nodes last seen. */
  #apply(state: ServiceState, entries: readonly HealthEntry[], emit: boolean): void {
    const next = new Map<string, NodeState>();
    for (const entry of entries) {
      if (isCritical(entry)) continue;
      const service = entryToService(entry, state.name);
      if (!service) continue;
      next.set(service.nodes[0]!.id, { service, key: JSON.stringify(service) });
    }
    if (emit) {
      for (const [id, previous] of state.nodes) {
        if (!next.has(id)) this.#emit('delete', previous.service);
      }
      for (const [id, current] of next) {
        const previous = state.nodes.get(id);
        if (!previous) this.#emit('create', current.service);
        else if (previous.key !== current.key) this.#emit('update', current.service);
      }
    }
    state.nodes = next;
  }

  #emit(action: WatchAction, service: Service): void {
    if (!this.#stopped) this.watcher.push({ action, service: normalizeService(service) });
  }

  async #serviceLoop(state: ServiceState): Promise<void> {
    // In a watch of one service, this loop is the one that reports trouble.
    const primary = this.#service !== undefined;
    let failures = 0;
    while (!this.#stopped && !state.stopped) {
      const sent = state.index;
      const started = Date.now();
      try {
        await this.#read(state, {
          deadline: this.#queryDeadline(),
          wait: this.#settings.wait,
          emit: true,
        });
        if (failures > 0) this.#recovered(primary, state.name, failures);
        failures = 0;
        if (sent > 0n && state.index <= sent && Date.now() - started < this.#settings.wait / 2) {
          await sleep(IDLE_PAUSE, state.abort.signal).catch(() => {});
        }
      } catch (error) {
        if (this.#stopped || state.stopped) return;
        failures++;
        state.index = 0n;
        this.#failed(primary, state.name, failures, error);
        await sleep(backoffDelay(failures - 1, BACKOFF), state.abort.signal).catch(() => {});
      }
    }
  }

  async #catalogLoop(): Promise<void> {
    const loop = this.#catalog;
    let failures = 0;
    while (!this.#stopped) {
      const sent = loop.index;
      const started = Date.now();
      try {
        const { body, index } = await this.#settings.client.catalogServices({
          index: loop.index,
          wait: this.#settings.wait,
          deadline: this.#queryDeadline(),
          cancel: loop.cancel,
        });
        if (this.#stopped) return;
        loop.index = nextIndex(loop.index, index);
        if (failures > 0) this.#recovered(true, 'the catalog', failures);
        failures = 0;
        this.#reconcile(Object.keys(body));
        if (sent > 0n && loop.index <= sent && Date.now() - started < this.#settings.wait / 2) {
          await sleep(IDLE_PAUSE, loop.abort.signal).catch(() => {});
        }
      } catch (error) {
        if (this.#stopped) return;
        failures++;
        loop.index = 0n;
        this.#failed(true, 'the catalog', failures, error);
        await sleep(backoffDelay(failures - 1, BACKOFF), loop.abort.signal).catch(() => {});
      }
    }
  }

  /** Starts watching services new to the catalog and drops those that left it. */
  #reconcile(names: readonly string[]): void {
    const present = new Set(names);
    for (const name of names) {
      if (this.#services.has(name)) continue;
      // A service that appeared after the snapshot: its first answer reports creates.
      void this.#serviceLoop(this.#track(name));
    }
    for (const state of [...this.#services.values()]) {
      if (!present.has(state.name)) this.#untrack(state);
    }
  }

  #failed(primary: boolean, what: string, failures: number, error: unknown): void {
    const fields = {
      address: this.#settings.client.address,
      error: error instanceof Error ? error.message : String(error),
      failures,
    };
    if (primary && failures === 1) {
      this.#settings.logger.warn(`consul watch: reading ${what} failed; retrying`, fields);
    } else {
      this.#settings.logger.debug(`consul watch: reading ${what} failed; retrying`, fields);
    }
  }

  #recovered(primary: boolean, what: string, failures: number): void {
    const message = `consul watch: reading ${what} again after ${failures} failed attempts`;
    const fields = { address: this.#settings.client.address };
    if (primary) this.#settings.logger.info(message, fields);
    else this.#settings.logger.debug(message, fields);
  }
}
