import { errorMessage } from '../errors/errors.js';
import type { Logger } from '../logger/logger.js';
import type { BrokerHandler, Event } from './broker.js';

/** How {@link dispatchEvent} acknowledges. */
export interface DispatchOptions {
  /** Ack on success and nack on failure; otherwise the handler does it. */
  autoAck: boolean;
  /** Where a failing handler is logged. */
  logger: Logger;
}

/**
 * Runs a subscriber's handler with go-micro's auto-ack rule: ack when it resolves,
 * nack and log when it throws. Never rejects, so one bad message cannot stop a
 * subscription. Every broker plugin delivers through this.
 *
 * A handler that returns without a promise is acked at once, without waiting a
 * microtask: this runs once per message, so it allocates as little as it can.
 * @returns true when the handler succeeded
 */
export function dispatchEvent(
  handler: BrokerHandler,
  event: Event,
  options: DispatchOptions,
): Promise<boolean> {
  let result: unknown;
  try {
    result = handler(event);
  } catch (error) {
    return failed(event, options, error);
  }
  if (isThenable(result)) {
    return Promise.resolve(result).then(
      () => succeeded(event, options),
      (error: unknown) => failed(event, options, error),
    );
  }
  try {
    return succeeded(event, options);
  } catch (error) {
    // an ack that throws instead of rejecting
    return Promise.reject(error);
  }
}

const SUCCEEDED = Promise.resolve(true);
const returnTrue = (): boolean => true;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function succeeded(event: Event, options: DispatchOptions): Promise<boolean> {
  if (!options.autoAck) return SUCCEEDED;
  return event.ack().then(returnTrue, (ackError: unknown) => {
    options.logger.error('broker: ack failed', { topic: event.topic, error: String(ackError) });
    return true;
  });
}

async function failed(event: Event, options: DispatchOptions, error: unknown): Promise<boolean> {
  options.logger.error('broker: subscriber failed', {
    topic: event.topic,
    error: errorMessage(error),
  });
  if (options.autoAck) {
    await event.nack().catch((nackError: unknown) =>
      options.logger.error('broker: nack failed', {
        topic: event.topic,
        error: String(nackError),
      }),
    );
  }
  return false;
}
