// HTTP: @micro/broker-http (go-micro's default broker) against plain node:http doing
// the same work: a POST of the envelope to `/?id=<node id>` over a keep-alive agent
// (100 sockets, LIFO, as @micro's), answered by a plain node:http server once the
// handler has run (a queue subscriber answers after its handler in go-micro too).
//
// The subscriber registers in a memory registry of its own process; the orchestrator
// hands its `micro.http.broker` record to the publisher, which registers it in its
// own memory registry: two processes, no registry server.
import http from 'node:http';
import { createHttpBroker } from '@micro/broker-http';
import { createMemoryRegistry } from '@micro/core';
import { readEnvelope, silent, writeEnvelope } from './common.mjs';

export const variable = undefined; // needs no server

export async function serverVersion() {
  return 'no server: publisher POSTs to subscriber';
}

export function clientVersion() {
  return `node:http ${process.version}`;
}

const SERVICE = 'micro.http.broker';

export async function micro({ role, info }) {
  const registry = createMemoryRegistry();
  if (role === 'publisher') {
    for (const service of info) await registry.register(service, { ttl: 0 });
  }
  return {
    broker: createHttpBroker({ registry, logger: silent }),
    registry,
    info: () => registry.getService(SERVICE),
  };
}

export const raw = {
  async subscribe(_options, onMessage) {
    const server = http.createServer((request, response) => {
      const chunks = [];
      request.on('data', (chunk) => chunks.push(chunk));
      request.on('end', () => {
        const { header, body } = readEnvelope(Buffer.concat(chunks));
        onMessage(header['Micro-Topic'], header, body);
        response.writeHead(200, { 'Content-Length': '0' });
        response.end();
      });
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address();
    return {
      info: { address: `127.0.0.1:${port}`, id: `bench-${port}` },
      close: () => {
        server.closeAllConnections();
        return new Promise((resolve) => server.close(resolve));
      },
    };
  },

  async publisher({ info }) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 100, scheduling: 'lifo' });
    const [host, port] = info.address.split(':');
    const path = `/?id=${encodeURIComponent(info.id)}`;
    return {
      send(header, body) {
        const payload = writeEnvelope(header, body);
        return new Promise((resolve, reject) => {
          const request = http.request({
            host,
            port,
            method: 'POST',
            path,
            agent,
            headers: { 'Content-Type': 'application/json', 'Content-Length': payload.length },
          });
          request.on('response', (response) => {
            response.resume();
            response.on('end', () =>
              response.statusCode < 300
                ? resolve()
                : reject(new Error(`subscriber answered ${response.statusCode}`)),
            );
          });
          request.on('error', reject);
          request.end(payload);
        });
      },
      close: async () => agent.destroy(),
    };
  },
};
