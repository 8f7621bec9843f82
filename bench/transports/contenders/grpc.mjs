// grpc: plain @grpc/grpc-js unary calls, the way gRPC's own Node examples write them:
// a .proto loaded with @grpc/proto-loader, a callback handler, one client (one channel).
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const PROTO = fileURLToPath(new URL('../hello.proto', import.meta.url));

function loadGreeter() {
  const definition = protoLoader.loadSync(PROTO, {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition).bench.Greeter;
}

export async function serve() {
  const Greeter = loadGreeter();
  const server = new grpc.Server();
  server.addService(Greeter.service, {
    Hello(call, callback) {
      callback(null, { msg: `Hello ${call.request.name}` });
    },
  });
  const port = await new Promise((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });
  return {
    address: `127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.tryShutdown(() => resolve());
      }),
  };
}

export async function connect(address) {
  const Greeter = loadGreeter();
  const client = new Greeter(address, grpc.credentials.createInsecure());
  await new Promise((resolve, reject) => {
    client.waitForReady(Date.now() + 10_000, (error) => (error ? reject(error) : resolve()));
  });
  return {
    call: (request) =>
      new Promise((resolve, reject) => {
        client.Hello(request, (error, reply) => (error ? reject(error) : resolve(reply)));
      }),
    close: async () => client.close(),
  };
}
