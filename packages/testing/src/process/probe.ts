import {
  type Context,
  createMemoryBroker,
  createMemoryRegistry,
  createService,
  MicroError,
  silentLogger,
  stream,
  type Transport,
} from '@micro/core';
import { loadFactory, type PluginModule } from './plugin.js';

/** How the child process builds the transport under test (see {@link PluginModule}). */
export type TransportModule = PluginModule;

/** What the probe's handlers remember, for the parent to ask about. */
const observed: { aborts: string[]; running: number } = { aborts: [], running: 0 };

/** The handler the cross-process suite calls. */
export class Probe {
  async Echo(request: unknown, context: Context) {
    return { request, tenant: context.metadata.get('x-tenant') ?? null, pid: process.pid };
  }

  async Fail(request: { code: number; detail: string }) {
    if (request.code === 0) throw new Error(request.detail);
    throw new MicroError('probe', request.detail, request.code);
  }

  async Slow(request: { ms: number }, context: Context) {
    observed.running++;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, request.ms);
      context.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        const reason = context.signal.reason as { code?: number };
        observed.aborts.push(String(reason?.code ?? 'unknown'));
        resolve();
      });
    }).finally(() => {
      observed.running--;
    });
    return { slept: request.ms };
  }

  async Running() {
    return observed.running;
  }

  async Aborts() {
    return observed.aborts;
  }

  async Bytes(request: { size: number }) {
    return { data: 'x'.repeat(request.size) };
  }

  Chat = stream<{ n: number }, { n: number }>(async (chat) => {
    for await (const message of chat) await chat.send({ n: message.n * 2 });
  });
}

/**
 * Runs the probe service over the transport a parent names in
 * `MICRO_TEST_TRANSPORT` (JSON {@link TransportModule}), prints its address as
 * one JSON line, and stops gracefully on SIGTERM.
 */
export async function main(): Promise<void> {
  const spec = JSON.parse(process.env.MICRO_TEST_TRANSPORT ?? '{}') as TransportModule;
  const factory = await loadFactory<Transport>(spec);
  const service = await createService({
    name: 'probe',
    transport: factory(spec.options ?? {}),
    registry: createMemoryRegistry(),
    broker: createMemoryBroker(),
    address: process.env.MICRO_TEST_ADDRESS ?? '127.0.0.1:0',
    shutdownTimeout: 5_000,
    logger: silentLogger,
  });
  service.handle(new Probe());
  await service.start();
  process.stdout.write(
    `${JSON.stringify({ address: service.server.address, pid: process.pid })}\n`,
  );
  process.once('SIGTERM', () => {
    void service.stop().then(() => process.exit(0));
  });
}
