/** Pieces shared by the broker and its subscriptions; not exported from the package. */
import { ErrorIds, unavailable } from '@micro/core';
import type { ChannelModel } from 'amqplib';

/** One AMQP connection and whether it has closed. */
export interface Link {
  readonly model: ChannelModel;
  /** The URL it was opened with (unredacted). */
  readonly url: string;
  closed: boolean;
}

/**
 * Settles like `promise`, or rejects with 503 after `ms` (the work may still
 * finish later; `onLate` then receives its value so it can be released).
 */
export function bounded<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  onLate?: (value: T) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      reject(unavailable(ErrorIds.broker, `rabbitmq: ${what}: no answer within ${ms} ms`));
    }, ms);
    promise.then(
      (value) => {
        if (done) {
          onLate?.(value);
          return;
        }
        done = true;
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** The message of anything thrown, for log fields. */
export function messageOf(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'message' in error) {
    return String(error.message);
  }
  return String(error);
}

/** Swallows a rejection (for best-effort cleanup whose failure changes nothing). */
export function ignore(): void {}
