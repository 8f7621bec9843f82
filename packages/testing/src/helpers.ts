import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, it } from '@jest/globals';
import { errorMessage, isMicroError, type MicroError } from '@micro/core';

/**
 * A name no other test uses, so suites can share one real server.
 * @param prefix what the name is for, e.g. `svc`
 * @example randomName('svc') // 'micro-test-svc-3f9a1c0b'
 */
export function randomName(prefix: string): string {
  return `micro-test-${prefix}-${randomBytes(4).toString('hex')}`;
}

/** Options for {@link waitFor}. */
export interface WaitOptions {
  /**
   * How long to wait, in milliseconds.
   * @default 5000
   */
  timeout?: number;
  /**
   * How often to check, in milliseconds.
   * @default 20
   */
  interval?: number;
}

/**
 * Polls until `check` returns a value other than undefined/false, or throws
 * after the timeout with `what` in the message and the last error seen.
 * @param what the awaited condition, for the failure message
 * @param check returns the value once ready; may throw or reject while not ready
 * @returns the first ready value
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  options: WaitOptions = {},
): Promise<T> {
  const timeout = options.timeout ?? 5_000;
  const interval = options.interval ?? 20;
  const deadline = Date.now() + timeout;
  let lastError: unknown;
  while (true) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const detail = lastError === undefined ? '' : ` (last error: ${errorMessage(lastError)})`;
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

/**
 * Rejects when `promise` does not settle in time: a hang becomes a failure that
 * says what hung.
 */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

/** Awaits a promise expected to reject and returns what it rejected with. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject, but it resolved');
}

/**
 * Runs a function expected to throw a {@link MicroError} and returns it: the
 * synchronous sibling of {@link rejection}, for codecs and option checks.
 * @throws Error when `run` returns, or throws something else
 */
export function thrownMicroError(run: () => unknown): MicroError {
  try {
    run();
  } catch (error) {
    if (isMicroError(error)) return error;
    throw new Error(`expected a MicroError, got ${String(error)}`);
  }
  throw new Error('expected a MicroError, but nothing was thrown');
}

const REQUIRE = 'MICRO_TEST_REQUIRE_SERVICES';

/**
 * Declares an integration suite that needs a real server. When its variables are
 * unset the suite is skipped with a printed reason; with
 * `MICRO_TEST_REQUIRE_SERVICES=1` (as in CI) it fails instead, so CI never skips.
 * When they are set and the server does not answer, the tests themselves fail.
 *
 * @param title the suite title
 * @param variables the environment variables the suite needs, e.g. `['MICRO_TEST_ETCD_ADDRESS']`
 * @param body declares the tests; receives the variables' values
 * @example
 * describeWithServer('EtcdRegistry', ['MICRO_TEST_ETCD_ADDRESS'], ({ MICRO_TEST_ETCD_ADDRESS }) => {
 *   registryConformance('etcd', () => createEtcdRegistry({ addresses: [MICRO_TEST_ETCD_ADDRESS] }), { ttl: true });
 * });
 */
export function describeWithServer<V extends string>(
  title: string,
  variables: readonly V[],
  body: (env: Readonly<Record<V, string>>) => void,
): void {
  const missing = variables.filter((name) => !process.env[name]);
  if (missing.length === 0) {
    const env = Object.fromEntries(variables.map((name) => [name, process.env[name]!]));
    describe(title, () => body(env as Record<V, string>));
    return;
  }
  const reason = `${title}: needs ${missing.join(', ')} (npm test sets it; by hand see docs/testing.md: scripts/services up prints the server variables)`;
  if (process.env[REQUIRE] === '1') {
    describe(title, () => {
      it('has its server', () => {
        throw new Error(`${REQUIRE}=1 but ${reason}`);
      });
    });
    return;
  }
  process.stderr.write(`skipped: ${reason}\n`);
  describe.skip(title, () => {
    it('needs its server', () => {});
  });
}

/**
 * Stops or starts a test server through `scripts/services` (its path is in
 * `MICRO_TEST_SERVICES`), for fault tests. Resolves once the server is down, or
 * up and answering.
 * @param server e.g. `etcd`
 * @param action `stop` or `start`
 */
export function controlServer(server: string, action: 'stop' | 'start'): Promise<void> {
  const script = process.env.MICRO_TEST_SERVICES;
  if (!script) {
    return Promise.reject(new Error('MICRO_TEST_SERVICES is not set: cannot control test servers'));
  }
  return new Promise((resolve, reject) => {
    execFile('bash', [script, action, server], { timeout: 120_000 }, (error, _stdout, stderr) => {
      if (error)
        reject(
          new Error(`scripts/services ${action} ${server} failed: ${stderr || error.message}`),
        );
      else resolve();
    });
  });
}
