// What every process of the demo plugs in: mDNS discovery pinned to the loopback
// interface (nothing is multicast on other interfaces) and the TCP transport.
import type { Logger, Registry, Transport } from '@micro/core';
import { createMdnsRegistry } from '@micro/registry-mdns';
import { createTcpTransport } from '@micro/transport-tcp';

/** The interface mDNS uses; loopback unless MICRO_DEMO_INTERFACE says otherwise. */
export const MDNS_INTERFACE = process.env.MICRO_DEMO_INTERFACE ?? '127.0.0.1';

export function components(logger: Logger): {
  registry: Registry;
  transport: Transport;
  address: string;
} {
  return {
    registry: createMdnsRegistry({
      interface: MDNS_INTERFACE,
      ...(process.env.MICRO_DEMO_MDNS_PORT
        ? { port: Number(process.env.MICRO_DEMO_MDNS_PORT) }
        : {}),
      logger,
    }),
    transport: createTcpTransport({ logger }),
    address: `${MDNS_INTERFACE}:0`,
  };
}
