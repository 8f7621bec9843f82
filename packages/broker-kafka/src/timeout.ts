import { ErrorIds, unavailable } from '@micro/core';

/**
 * Bounds a piece of work: rejects with a 503 when it has not settled in time. The
 * work itself goes on (kafkajs cannot cancel a request); its late rejection is
 * swallowed here.
 * @param work the promise to bound
 * @param ms the bound, in milliseconds
 * @param detail the 503's detail, built only when the bound passes
 * @returns the work's result
 * @throws {@link MicroError} 503 when the bound passes first
 */
export function withTimeout<T>(work: Promise<T>, ms: number, detail: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(unavailable(ErrorIds.broker, detail())), ms);
  });
  work.catch(() => {});
  return Promise.race([work, limit]).finally(() => clearTimeout(timer));
}
