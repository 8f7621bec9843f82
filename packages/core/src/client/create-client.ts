import { Codecs } from '../codec/codec.js';
import { defaultBroker, defaultCodecs, defaultRegistry, defaultTransport } from '../defaults.js';
import type { Registry } from '../registry/registry.js';
import { RegistrySelector } from '../selector/registry-selector.js';
import type { Client, ClientOptions } from './client.js';
import { RpcClient } from './rpc-client.js';

/** Options for {@link createClient}: every component is optional. */
export type CreateClientOptions = Partial<ClientOptions> & {
  /** Where the default selector finds nodes. @default the process-wide in-memory registry */
  registry?: Registry;
};

/**
 * Creates a client without a service, for programs that only call and publish.
 * Missing components are the process-wide in-memory defaults; with a `registry`
 * and no `selector`, a random selector over that registry.
 *
 * @example
 * const client = createClient({ registry: createEtcdRegistry(), transport: createTcpTransport() });
 * const reply = await client.call('helloworld', 'Greeter.Hello', { name: 'John' });
 */
export function createClient(options: CreateClientOptions = {}): Client {
  const registry = options.registry ?? defaultRegistry();
  return new RpcClient({
    ...options,
    transport: options.transport ?? defaultTransport(),
    selector: options.selector ?? new RegistrySelector({ registry, logger: options.logger }),
    broker: options.broker ?? defaultBroker(),
    codecs: options.codecs ?? new Codecs(defaultCodecs()),
  });
}
