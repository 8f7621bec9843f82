// What every process of the demo plugs in: mDNS discovery pinned to the loopback
// interface (nothing is multicast on other interfaces), the TCP transport, and
// go-micro's default broker (HTTP, subscribers found through the registry).
import { createHttpBroker } from '@micro/broker-http';
import type { Broker, Logger, Registry, Transport } from '@micro/core';
import { createMdnsRegistry } from '@micro/registry-mdns';
import { createTcpTransport } from '@micro/transport-tcp';

/** The interface mDNS uses; loopback unless MICRO_DEMO_INTERFACE says otherwise. */
export const MDNS_INTERFACE = process.env.MICRO_DEMO_INTERFACE ?? '127.0.0.1';

export function components(logger: Logger): {
  registry: Registry;
  transport: Transport;
  broker: Broker;
  address: string;
} {
  const registry = createMdnsRegistry({
    interface: MDNS_INTERFACE,
    ...(process.env.MICRO_DEMO_MDNS_PORT ? { port: Number(process.env.MICRO_DEMO_MDNS_PORT) } : {}),
    logger,
  });
  return {
    registry,
    transport: createTcpTransport({ logger }),
    broker: createHttpBroker({ registry, address: `${MDNS_INTERFACE}:0`, logger }),
    address: `${MDNS_INTERFACE}:0`,
  };
}
