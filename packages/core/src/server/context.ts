import { ErrorIds, timeout } from '../errors/errors.js';
import { Metadata } from '../metadata/metadata.js';
import type { Header } from '../transport/transport.js';
import type { Context, MessageContext } from './server.js';

/** Starts watching for a caller that gives up; calls back with why. */
export type CallerWatch = (gone: (reason: unknown) => void) => void;

/**
 * A handler's {@link Context}. The metadata and the AbortSignal are built on first
 * use, so a handler that never looks at them costs no timer and no allocation.
 */
export class RequestContext implements Context {
  #metadata: Metadata | undefined;
  #controller: AbortController | undefined;
  #timer: NodeJS.Timeout | undefined;
  #abortReason: unknown;
  #done = false;

  /**
   * @param header the request headers, exposed as metadata
   * @param remote the caller's address
   * @param service the service name asked for
   * @param endpoint the endpoint served
   * @param deadline the caller's deadline, epoch ms
   * @param watchCaller started on first use of the signal; streams report a
   *   departed caller themselves and pass none
   */
  constructor(
    private readonly header: Header,
    readonly remote: string,
    readonly service: string,
    readonly endpoint: string,
    readonly deadline: number | undefined,
    private readonly watchCaller?: CallerWatch,
  ) {}

  get metadata(): Metadata {
    if (!this.#metadata) this.#metadata = new Metadata(this.header);
    return this.#metadata;
  }

  get signal(): AbortSignal {
    if (this.#controller) return this.#controller.signal;
    const controller = new AbortController();
    this.#controller = controller;
    if (this.#abortReason !== undefined) {
      controller.abort(this.#abortReason);
      return controller.signal;
    }
    if (this.deadline !== undefined) {
      const remaining = this.deadline - Date.now();
      const expire = () =>
        this.abort(timeout(ErrorIds.server, `deadline exceeded serving ${this.endpoint}`));
      if (remaining <= 0) expire();
      else {
        this.#timer = setTimeout(expire, remaining);
        this.#timer.unref();
      }
    }
    this.watchCaller?.((reason) => this.abort(reason));
    return controller.signal;
  }

  /** Aborts the handler's signal, once, unless the call already finished. */
  abort(reason: unknown): void {
    if (this.#done || this.#abortReason !== undefined) return;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
  }

  /** True once the caller's deadline has passed. */
  get expired(): boolean {
    return this.deadline !== undefined && Date.now() >= this.deadline;
  }

  /** Releases the deadline timer; later aborts are ignored. */
  finish(): void {
    this.#done = true;
    clearTimeout(this.#timer);
  }
}

/** A subscriber's {@link MessageContext}. */
export class EventContext implements MessageContext {
  #metadata: Metadata | undefined;

  constructor(
    readonly topic: string,
    private readonly header: Header,
    readonly contentType: string,
  ) {}

  get metadata(): Metadata {
    if (!this.#metadata) this.#metadata = new Metadata(this.header);
    return this.#metadata;
  }
}
