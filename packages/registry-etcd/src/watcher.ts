import {
  type Logger,
  type MicroError,
  QueueWatcher,
  type Service,
  sleep,
  type WatchAction,
} from '@micro/core';
import type { Etcd3, Watcher as EtcdWatcher, IEvent, IKeyValue, IWatchResponse } from 'etcd3';
import type { CallOptions } from './client.js';
import { decodeService } from './encoding.js';
import { timedOut, toMicroError } from './errors.js';

/** What the watch knows about one key, to drop replayed events and to diff after a re-read. */
interface Known {
  create: bigint;
  mod: bigint;
  /** undefined when the value could not be decoded */
  service: Service | undefined;
}

/** The part of the registry a watch needs. */
export interface WatchContext {
  client: Etcd3;
  logger: Logger;
  timeout: number;
  /** Runs one bounded etcd call, mapping failures to MicroError. */
  call<T>(what: string, deadline: number, run: (options: CallOptions) => Promise<T>): Promise<T>;
}

/** The end of the key range that holds every key starting with `prefix`. */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/** Codes after which re-reading cannot help: the watch ends with the error. */
function isPermanent(error: MicroError): boolean {
  return error.code === 400 || error.code === 401 || error.code === 403;
}

/**
 * A prefix watch that reports go-micro's create/update/delete and loses nothing:
 * it starts from a snapshot's revision, resumes after a reconnect from the last
 * revision it handled (etcd3 replays what happened meanwhile), drops replayed
 * duplicates, and when etcd cannot replay (history compacted, or a restored or
 * replaced cluster) it re-reads the prefix and reports the differences.
 */
export class EtcdWatch {
  readonly watcher: QueueWatcher;
  readonly #context: WatchContext;
  readonly #prefix: Buffer;
  readonly #end: Buffer;
  readonly #what: string;
  readonly #known = new Map<string, Known>();
  /** Every change up to this revision has been handled. */
  #revision = 0n;
  #clusterId: string | undefined;
  #current: EtcdWatcher | undefined;
  /** Bumped whenever the etcd3 watcher is replaced; events of an older one are ignored. */
  #generation = 0;
  #disconnected = false;
  #resyncing = false;
  #started = false;
  #stopped = false;
  #cancelled: Promise<void> = Promise.resolve();
  readonly #abort = new AbortController();

  /**
   * @param context the registry's client, logger and call helper
   * @param prefix the key prefix to watch
   * @param onStop called once when the watch stops or fails
   */
  constructor(context: WatchContext, prefix: string, onStop: () => void) {
    this.#context = context;
    this.#prefix = Buffer.from(prefix);
    this.#end = prefixEnd(this.#prefix);
    this.#what = `watch ${prefix}`;
    this.watcher = new QueueWatcher(() => {
      this.#shutdown();
      onStop();
    });
  }

  /**
   * Reads the current state and opens the etcd watch after it; resolves once etcd
   * confirmed the watch, so every change made afterwards is reported.
   * @throws {@link MicroError} 503 when etcd does not answer within the timeout
   */
  async start(): Promise<void> {
    const deadline = Date.now() + this.#context.timeout;
    try {
      await this.#snapshot(deadline, false);
      await this.#open(deadline, true);
      this.#started = true;
    } catch (error) {
      this.#shutdown();
      throw error;
    }
  }

  /** Reads the prefix; with `report`, pushes the differences from what was known. */
  async #snapshot(deadline: number, report: boolean): Promise<void> {
    const response = await this.#context.call(this.#what, deadline, (options) =>
      this.#context.client.kv.range({ key: this.#prefix, range_end: this.#end }, options),
    );
    if (this.#stopped) return;
    const seen = new Map<string, Known>();
    const changes: { action: WatchAction; service: Service }[] = [];
    for (const kv of response.kvs) {
      const key = kv.key.toString();
      const known = this.#known.get(key);
      const entry: Known = {
        create: BigInt(kv.create_revision),
        mod: BigInt(kv.mod_revision),
        service: known && known.mod === BigInt(kv.mod_revision) ? known.service : undefined,
      };
      if (!known || known.mod !== entry.mod) {
        entry.service = this.#decode(kv);
        if (report && entry.service) {
          // a key re-created meanwhile is a new registration of that node
          const action = known && known.create === entry.create ? 'update' : 'create';
          changes.push({ action, service: entry.service });
        }
      }
      seen.set(key, entry);
    }
    if (report) {
      for (const [key, known] of this.#known) {
        if (!seen.has(key) && known.service) {
          changes.unshift({ action: 'delete', service: known.service });
        }
      }
    }
    this.#known.clear();
    for (const [key, entry] of seen) this.#known.set(key, entry);
    this.#revision = BigInt(response.header.revision);
    this.#clusterId = response.header.cluster_id;
    for (const change of changes) this.watcher.push(change);
  }

  /** Opens an etcd3 watcher from the revision after {@link #revision}. */
  async #open(deadline: number, waitConnected: boolean): Promise<void> {
    const generation = ++this.#generation;
    const watcher = this.#context.client
      .watch()
      .prefix(this.#prefix)
      .withPreviousKV()
      .startRevision(String(this.#revision + 1n))
      .watcher();
    this.#current = watcher;
    const current = () => generation === this.#generation && !this.#stopped;
    // etcd3 resumes from the revision after the last *response* header it saw, which
    // can skip replayed events when the stream drops twice in a row: resume from ours
    watcher.on('connecting', () => {
      if (current()) watcher.request.start_revision = String(this.#revision + 1n);
    });
    watcher.on('data', (response) => {
      if (current()) this.#onData(response);
    });
    watcher.on('disconnected', (error) => {
      if (!current()) return;
      if (!this.#disconnected) {
        this.#context.logger.warn('etcd watch disconnected; resuming when etcd is back', {
          prefix: this.#prefix.toString(),
          error: error.message,
        });
      }
      this.#disconnected = true;
    });
    const connected = new Promise<void>((resolve, reject) => {
      watcher.on('connected', (response) => {
        if (current()) this.#onConnected(response);
        resolve();
      });
      watcher.on('error', (error) => {
        reject(toMicroError(error, this.#what));
        if (current() && this.#started) this.#onCanceled(error);
      });
    });
    // the first connect is awaited below; later failures go through #onCanceled
    connected.catch(() => {});
    if (!waitConnected) return;
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(timedOut(this.#what, this.#context.timeout)),
        Math.max(0, deadline - Date.now()),
      );
    });
    try {
      await Promise.race([connected, limit]);
    } finally {
      clearTimeout(timer);
    }
  }

  #onConnected(response: IWatchResponse): void {
    const revision = BigInt(response.header.revision);
    if (
      (this.#clusterId !== undefined && response.header.cluster_id !== this.#clusterId) ||
      revision < this.#revision
    ) {
      // a restored backup or a new cluster: the revisions we would resume from mean nothing
      this.#context.logger.warn('etcd lost the watch history (restored or replaced); re-reading', {
        prefix: this.#prefix.toString(),
        revision: revision.toString(),
        expected: this.#revision.toString(),
      });
      this.#resync();
      return;
    }
    if (this.#disconnected) {
      this.#disconnected = false;
      this.#context.logger.info('etcd watch resumed', {
        prefix: this.#prefix.toString(),
        from: (this.#revision + 1n).toString(),
      });
    }
  }

  #onCanceled(error: Error): void {
    this.#context.logger.warn('etcd cancelled the watch; re-reading', {
      prefix: this.#prefix.toString(),
      error: error.message,
    });
    this.#resync();
  }

  #onData(response: IWatchResponse): void {
    const base = this.#revision;
    let top = base;
    if (response.events.length === 0) {
      // a progress notification: every change up to its revision has been sent
      if (!response.created && !response.canceled) top = BigInt(response.header.revision);
    }
    for (const event of response.events) {
      const mod = BigInt(event.kv.mod_revision);
      if (mod <= base) continue; // replayed after a reconnect: already handled
      if (mod > top) top = mod;
      this.#onEvent(event, mod);
    }
    if (top > this.#revision) this.#revision = top;
  }

  #onEvent(event: IEvent, mod: bigint): void {
    const key = event.kv.key.toString();
    const known = this.#known.get(key);
    if (known && known.mod >= mod) return;
    if (event.type === 'Put') {
      const service = this.#decode(event.kv);
      this.#known.set(key, { create: BigInt(event.kv.create_revision), mod, service });
      if (!service) return;
      // go-micro: IsCreate (created at this revision) is create, IsModify is update
      const action = event.kv.create_revision === event.kv.mod_revision ? 'create' : 'update';
      this.watcher.push({ action, service });
      return;
    }
    this.#known.delete(key);
    const service = (event.prev_kv && this.#decode(event.prev_kv)) || known?.service;
    if (service) this.watcher.push({ action: 'delete', service });
  }

  #decode(kv: IKeyValue): Service | undefined {
    try {
      return decodeService(kv.value);
    } catch (error) {
      this.#context.logger.warn('skipping an etcd registry record that does not decode', {
        key: kv.key.toString(),
        error: (error as Error).message,
      });
      return undefined;
    }
  }

  /** Replaces the etcd3 watcher after reading the prefix again; retries until it works or stops. */
  #resync(): void {
    if (this.#resyncing || this.#stopped) return;
    this.#resyncing = true;
    this.#generation++;
    this.#cancelCurrent();
    void (async () => {
      for (let attempt = 0; !this.#stopped; attempt++) {
        try {
          const deadline = Date.now() + this.#context.timeout;
          await this.#snapshot(deadline, true);
          if (this.#stopped) break;
          this.#disconnected = false;
          await this.#open(deadline, false);
          break;
        } catch (error) {
          const failure = toMicroError(error, this.#what);
          if (isPermanent(failure)) {
            this.#context.logger.error('etcd watch failed', { error: failure.detail });
            this.watcher.fail(failure);
            break;
          }
          const delay = Math.min(1_000, 100 * 2 ** attempt);
          await sleep(delay, this.#abort.signal).catch(() => {});
        }
      }
      this.#resyncing = false;
    })();
  }

  /** Settles once etcd confirmed the cancel of the etcd3 watcher the watch last used. */
  get cancelled(): Promise<void> {
    return this.#cancelled;
  }

  #cancelCurrent(): void {
    const watcher = this.#current;
    this.#current = undefined;
    if (!watcher) return;
    // an etcd3 watcher without an error listener would throw on a late cancel error
    watcher.removeAllListeners();
    watcher.on('error', () => {});
    // cancelling waits for etcd to confirm; only close() waits for that, and briefly
    this.#cancelled = watcher.cancel().catch(() => {});
  }

  #shutdown(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#generation++;
    this.#abort.abort();
    this.#cancelCurrent();
  }
}
