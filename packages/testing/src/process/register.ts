// Entry of a child process that registers one service the way a Service does
// (register, then again every interval) until it is killed: what registryConformance
// kills with SIGKILL to see its node expire.
//
// Environment: MICRO_TEST_REGISTRY (JSON PluginModule), MICRO_TEST_REGISTER (JSON
// { service, ttl, interval }). Prints one JSON line ({ pid }) once registered.
import { type Registry, type Service, silentLogger } from '@micro/core';
import { loadFactory, type PluginModule, runMain } from './plugin.js';

runMain('register', async () => {
  const spec = JSON.parse(process.env.MICRO_TEST_REGISTRY ?? '{}') as PluginModule;
  const { service, ttl, interval } = JSON.parse(process.env.MICRO_TEST_REGISTER ?? '{}') as {
    service: Service;
    ttl: number;
    interval: number;
  };
  const factory = await loadFactory<Registry>(spec);
  const registry = factory({ logger: silentLogger, ...spec.options });
  await registry.register(service, { ttl });
  process.stdout.write(`${JSON.stringify({ pid: process.pid })}\n`);
  setInterval(() => {
    registry.register(service, { ttl }).catch((error: unknown) => {
      process.stderr.write(`register failed: ${String(error)}\n`);
    });
  }, interval);
});
