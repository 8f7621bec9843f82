// micro-tcp and micro-grpc: @micro/core's service and client (the whole RPC stack:
// wrappers, deadline, headers, JSON codec, router) over @micro/transport-tcp or
// @micro/transport-grpc. The client calls the server's address directly, as
// `client.call(service, endpoint, request, { address })` does.
import {
  createClient,
  createMemoryBroker,
  createMemoryRegistry,
  createService,
  silentLogger,
} from '@micro/core';

class Greeter {
  async Hello(request) {
    return { msg: `Hello ${request.name}` };
  }
}

async function createTransport(kind) {
  if (kind === 'tcp') {
    const { createTcpTransport } = await import('@micro/transport-tcp');
    return createTcpTransport({ logger: silentLogger });
  }
  const { createGrpcTransport } = await import('@micro/transport-grpc');
  return createGrpcTransport({ logger: silentLogger });
}

/** @param kind 'tcp' or 'grpc' */
export function microContender(kind) {
  return {
    async serve() {
      // Registry and broker given explicitly, so no MICRO_* variable changes the setup.
      const service = await createService({
        name: 'bench',
        address: '127.0.0.1:0',
        transport: await createTransport(kind),
        registry: createMemoryRegistry(),
        broker: createMemoryBroker(),
        logger: silentLogger,
      });
      service.handle(new Greeter());
      await service.start();
      return {
        address: service.server.address,
        close: async () => {
          await service.stop();
          await service.transport.close();
        },
      };
    },

    async connect(address) {
      const transport = await createTransport(kind);
      const client = createClient({
        transport,
        registry: createMemoryRegistry(),
        broker: createMemoryBroker(),
        logger: silentLogger,
      });
      const options = { address };
      return {
        call: (request) => client.call('bench', 'Greeter.Hello', request, options),
        close: () => transport.close(),
      };
    },
  };
}
