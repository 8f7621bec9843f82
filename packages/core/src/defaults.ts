/**
 * The in-process defaults every Service in a process shares when it is given
 * nothing else, as go-micro's `DefaultRegistry` and friends: two services in one
 * process find and call each other with no configuration.
 */
import { MemoryBroker } from './broker/memory.js';
import { bytesCodec } from './codec/bytes.js';
import type { Codec } from './codec/codec.js';
import { jsonCodec } from './codec/json.js';
import { MemoryRegistry } from './registry/memory.js';
import { MemoryTransport } from './transport/memory.js';

let registry: MemoryRegistry | undefined;
let broker: MemoryBroker | undefined;
let transport: MemoryTransport | undefined;

/** The process-wide in-memory registry. */
export function defaultRegistry(): MemoryRegistry {
  if (!registry) registry = new MemoryRegistry();
  return registry;
}

/** The process-wide in-memory broker. */
export function defaultBroker(): MemoryBroker {
  if (!broker) broker = new MemoryBroker();
  return broker;
}

/** The process-wide in-process transport. */
export function defaultTransport(): MemoryTransport {
  if (!transport) transport = new MemoryTransport();
  return transport;
}

/** The codecs every client and server has: JSON and raw bytes. */
export function defaultCodecs(): Codec[] {
  return [jsonCodec, bytesCodec];
}
