import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  type Client,
  createClient,
  createMemoryRegistry,
  isMicroError,
  type Transport,
} from '@micro/core';
import { rejection, waitFor, within } from './helpers.js';
import { startChild } from './process/child.js';
import type { TransportModule } from './process/probe.js';

/** How {@link rpcConformance} runs the two processes. */
export interface RpcConformanceOptions {
  /** The transport the child process serves on: the plugin's built entry and factory. */
  server: TransportModule;
  /** Creates the transport this (the calling) process dials with. */
  client: () => Transport;
}

interface Child {
  process: ChildProcess;
  address: string;
  pid: number;
  exited: Promise<number | null>;
}

/** The probe service in a child process, serving over `server`. */
async function startProbe(server: TransportModule, address?: string): Promise<Child> {
  const env: Record<string, string> = { MICRO_TEST_TRANSPORT: JSON.stringify(server) };
  if (address) env.MICRO_TEST_ADDRESS = address;
  const child = await startChild<{ address: string; pid: number }>('main.js', env, 'the probe');
  return { process: child.process, exited: child.exited, ...child.ready };
}

function code(error: unknown): number | undefined {
  return isMicroError(error) ? error.code : undefined;
}

/**
 * The runtime end to end across two real processes over a transport plugin:
 * calls, streams, errors, deadlines, concurrency, large bodies, graceful shutdown,
 * a crashed peer and a peer that comes back on the same address.
 *
 * Needs `@micro/testing` and the plugin built (`dist`), as turbo's test task does.
 *
 * @param name shown in the suite title
 * @param options the child's transport module and this process's transport factory
 */
export function rpcConformance(name: string, options: RpcConformanceOptions): void {
  describe(`RPC across processes: ${name}`, () => {
    let child: Child;
    let client: Client;
    let transport: Transport;
    const call = <T>(endpoint: string, body: unknown, extra: Record<string, unknown> = {}) =>
      client.call<T>('probe', endpoint, body, { address: child.address, ...extra });

    beforeAll(async () => {
      child = await startProbe(options.server);
      transport = options.client();
      client = createClient({ transport, registry: createMemoryRegistry() });
    }, 30_000);

    afterAll(async () => {
      child.process.kill('SIGKILL');
      await child.exited;
      await transport.close();
    });

    it('calls a handler in another process, with metadata', async () => {
      const reply = await call<{ request: unknown; tenant: string; pid: number }>(
        'Probe.Echo',
        { hello: 'world', list: [1, 2, 3] },
        { metadata: { 'X-Tenant': 'acme' } },
      );
      expect(reply).toEqual({
        request: { hello: 'world', list: [1, 2, 3] },
        tenant: 'acme',
        pid: child.pid,
      });
      expect(reply.pid).not.toBe(process.pid);
    });

    it('keeps 200 concurrent calls apart', async () => {
      const replies = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          call<{ request: { i: number } }>('Probe.Echo', { i }),
        ),
      );
      expect(replies.map((r) => r.request.i)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    });

    it('carries a 1 MiB reply', async () => {
      const reply = await call<{ data: string }>('Probe.Bytes', { size: 1024 * 1024 });
      expect(reply.data.length).toBe(1024 * 1024);
    });

    it("passes the handler's errors through: 404, a thrown MicroError, 500", async () => {
      expect(code(await rejection(call('Probe.Missing', {})))).toBe(404);
      const conflict = await rejection(call('Probe.Fail', { code: 409, detail: 'taken' }));
      expect(isMicroError(conflict) && conflict.toJSON()).toEqual({
        id: 'probe',
        code: 409,
        detail: 'taken',
        status: 'Conflict',
      });
      const crash = await rejection(call('Probe.Fail', { code: 0, detail: 'boom' }));
      expect(isMicroError(crash) && [crash.code, crash.detail]).toEqual([500, 'boom']);
    });

    it("answers 408 at the deadline and aborts the remote handler's signal", async () => {
      const started = Date.now();
      const error = await rejection(call('Probe.Slow', { ms: 10_000 }, { timeout: 300 }));
      expect(code(error)).toBe(408);
      expect(Date.now() - started).toBeLessThan(2_000);
      await waitFor('the remote handler to see its deadline', async () =>
        (await call<string[]>('Probe.Aborts', {})).includes('408'),
      );
    });

    it('streams both ways', async () => {
      const chat = await client.stream<{ n: number }, { n: number }>('probe', 'Probe.Chat', {
        address: child.address,
      });
      const replies: number[] = [];
      const reading = (async () => {
        for await (const reply of chat) replies.push(reply.n);
      })();
      for (let n = 1; n <= 5; n++) await chat.send({ n });
      await chat.closeSend();
      await within(reading, 5_000, 'the stream to end');
      expect(replies).toEqual([2, 4, 6, 8, 10]);
    });

    it('finishes an in-flight call when the peer stops gracefully, then refuses', async () => {
      const slow = call<{ slept: number }>('Probe.Slow', { ms: 500 });
      await waitFor(
        'the slow call to run',
        async () => (await call<number>('Probe.Running', {})) === 1,
      );
      child.process.kill('SIGTERM');
      await expect(within(slow, 5_000, 'the in-flight call')).resolves.toEqual({ slept: 500 });
      expect(await within(child.exited, 10_000, 'the graceful exit')).toBe(0);
      const started = Date.now();
      expect(code(await rejection(call('Probe.Echo', {}, { retries: 0 })))).toBe(503);
      expect(Date.now() - started).toBeLessThan(5_000);
    }, 30_000);

    it('fails calls promptly with 503 when the peer dies, and reconnects when it is back', async () => {
      child = await startProbe(options.server);
      await call('Probe.Echo', {});
      const pending = call('Probe.Slow', { ms: 10_000 }, { retries: 0 });
      await waitFor(
        'the slow call to run',
        async () => (await call<number>('Probe.Running', {})) === 1,
      );
      const started = Date.now();
      child.process.kill('SIGKILL');
      expect(code(await within(rejection(pending), 5_000, 'the failed call'))).toBe(503);
      expect(Date.now() - started).toBeLessThan(3_000);
      await child.exited;
      const address = child.address;
      child = await startProbe(options.server, address);
      expect(child.address).toBe(address);
      const reply = await call<{ pid: number }>('Probe.Echo', {});
      expect(reply.pid).toBe(child.pid);
    }, 30_000);
  });
}
