import { readFileSync } from 'node:fs';
import { createSecureServer, type Http2SecureServer } from 'node:http2';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { isMicroError, type Registry, silentLogger } from '@micro/core';
import { rejection } from '@micro/testing';
import { createEtcdRegistry, type EtcdRegistryOptions } from '../src/index.js';

const fixtures = join(__dirname, 'fixtures', 'tls');
const pem = (name: string) => readFileSync(join(fixtures, name));

interface Seen {
  path: string;
  authorized: boolean;
  client: string | undefined;
}

// A TLS HTTP/2 server standing in for etcd: it records each gRPC call it receives
// and answers NOT_FOUND, which shows the client got through the handshake.
describe('TLS to etcd', () => {
  let server: Http2SecureServer;
  let port = 0;
  const seen: Seen[] = [];
  const registries: Registry[] = [];
  const open = (options: EtcdRegistryOptions) => {
    const registry = createEtcdRegistry({
      addresses: [`127.0.0.1:${port}`],
      timeout: 2_000,
      logger: silentLogger,
      ...options,
    });
    registries.push(registry);
    return registry;
  };

  beforeAll(async () => {
    server = createSecureServer({
      key: pem('server-key.pem'),
      cert: pem('server.pem'),
      ca: pem('ca.pem'),
      requestCert: true,
      rejectUnauthorized: false,
    });
    server.on('stream', (stream, headers) => {
      const socket = stream.session?.socket as TLSSocket | undefined;
      const peer = socket?.getPeerCertificate();
      seen.push({
        path: String(headers[':path']),
        authorized: socket?.authorized ?? false,
        client: peer?.subject ? String(peer.subject.CN) : undefined,
      });
      stream.respond(
        {
          ':status': 200,
          'content-type': 'application/grpc',
          'grpc-status': '5',
          'grpc-message': 'seen',
        },
        { endStream: true },
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    port = typeof address === 'object' && address ? address.port : 0;
  });

  afterAll(async () => {
    for (const registry of registries) await registry.close();
    await new Promise((resolve) => server.close(resolve));
  });

  it('verifies the server with the given CA', async () => {
    seen.length = 0;
    const error = await rejection(open({ tls: { ca: pem('ca.pem') } }).getService('helloworld'));
    expect(isMicroError(error) && error.detail).toMatch(/seen/);
    expect(seen).toEqual([
      { path: '/etcdserverpb.KV/Range', authorized: false, client: undefined },
    ]);
  });

  it('presents the client certificate for mutual TLS', async () => {
    seen.length = 0;
    const registry = open({
      tls: { ca: pem('ca.pem').toString(), cert: pem('client.pem'), key: pem('client-key.pem') },
    });
    await rejection(registry.getService('helloworld'));
    expect(seen).toEqual([
      { path: '/etcdserverpb.KV/Range', authorized: true, client: 'micro-client' },
    ]);
  });

  it('refuses a server its CAs do not vouch for, with a 503', async () => {
    seen.length = 0;
    const error = await rejection(open({ tls: true }).getService('helloworld'));
    expect(isMicroError(error) && error.code).toBe(503);
    expect(seen).toEqual([]);
  });

  it('does not speak plain gRPC to a TLS server', async () => {
    seen.length = 0;
    const error = await rejection(open({}).getService('helloworld'));
    expect(isMicroError(error) && error.code).toBe(503);
    expect(seen).toEqual([]);
  });
});
