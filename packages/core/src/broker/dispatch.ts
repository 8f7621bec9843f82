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
 * @returns true when the handler succeeded
 */
export async function dispatchEvent(
  handler: BrokerHandler,
  event: Event,
  options: DispatchOptions,
): Promise<boolean> {
  try {
    await handler(event);
  } catch (error) {
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
  if (options.autoAck) {
    await event
      .ack()
      .catch((ackError: unknown) =>
        options.logger.error('broker: ack failed', { topic: event.topic, error: String(ackError) }),
      );
  }
  return true;
}
