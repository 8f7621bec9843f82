/** Options for {@link backoffDelay}. */
export interface BackoffOptions {
  /**
   * The first delay, in milliseconds.
   * @default 100
   */
  base?: number;
  /**
   * The largest delay, in milliseconds.
   * @default 30000
   */
  max?: number;
}

/**
 * Exponential backoff with full jitter: a random delay in `[0, min(max, base·2^attempt)]`,
 * so clients that failed together do not retry together.
 * @param attempt 0 for the first retry
 * @returns the delay in milliseconds
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const base = options.base ?? 100;
  const max = options.max ?? 30_000;
  const ceiling = Math.min(max, base * 2 ** Math.min(attempt, 30));
  return Math.random() * ceiling;
}

/**
 * Resolves after `ms`, or rejects with the signal's reason when it aborts first.
 * The timer does not keep the process alive.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    timer.unref();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
