import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { isMicroError, type Listener, type Socket, silentLogger } from '@micro/core';
import { transportConformance, within } from '@micro/testing';
import { createGrpcTransport, type GrpcTlsOptions, type GrpcTransport } from '../src/index.js';
import { makeCertificates, type Pki } from './certs.js';

let trusted: Pki;
let named: Pki;
let stranger: Pki;

beforeAll(() => {
  ({ trusted, named, stranger } = makeCertificates());
});

const tls = (extra: GrpcTlsOptions = {}): GrpcTlsOptions => ({
  ca: trusted.ca,
  cert: trusted.cert,
  key: trusted.key,
  ...extra,
});

transportConformance('grpc over TLS', () =>
  createGrpcTransport({ logger: silentLogger, tls: tls() }),
);

transportConformance('grpc over mutual TLS', () =>
  createGrpcTransport({ logger: silentLogger, tls: tls({ requireClientCertificate: true }) }),
);

const code = (error: unknown) => (isMicroError(error) ? error.code : error);

describe('TLS failures', () => {
  const transports: GrpcTransport[] = [];
  const make = (options: Parameters<typeof createGrpcTransport>[0]) => {
    const transport = createGrpcTransport({ logger: silentLogger, ...options });
    transports.push(transport);
    return transport;
  };
  afterAll(async () => {
    for (const transport of transports) await transport.close();
  });

  async function echoListener(options: GrpcTlsOptions): Promise<Listener> {
    const listener = await make({ tls: options }).listen('127.0.0.1:0');
    listener.accept((socket) => {
      void socket.recv().then(
        (message) => socket.send(message),
        () => undefined,
      );
    });
    return listener;
  }

  /** Dials and echoes once; resolves with the error of whichever step failed. */
  async function exchange(client: GrpcTransport, address: string): Promise<unknown> {
    let socket: Socket | undefined;
    try {
      socket = await client.dial(address);
      await socket.send({ header: {}, body: Buffer.from('secret') });
      await socket.recv();
      return undefined;
    } catch (error) {
      return error;
    } finally {
      await socket?.close();
    }
  }

  it('verifies the server with the CA', async () => {
    const listener = await echoListener(tls());
    expect(await exchange(make({ tls: { ca: trusted.ca } }), listener.address)).toBeUndefined();
  });

  it('checks the name in the certificate, or serverName when given', async () => {
    // A certificate for service.internal only, dialed as 127.0.0.1.
    const listener = await echoListener({ cert: named.cert, key: named.key });
    expect(code(await exchange(make({ tls: { ca: trusted.ca } }), listener.address))).toBe(503);
    const renamed = make({ tls: { ca: trusted.ca, serverName: 'service.internal' } });
    expect(await exchange(renamed, listener.address)).toBeUndefined();
  });

  it('fails promptly with 503 when the server is not trusted', async () => {
    const listener = await echoListener(tls());
    const started = Date.now();
    const error = await within(
      exchange(make({ tls: { ca: stranger.ca } }), listener.address),
      5_000,
      'a dial to an untrusted server',
    );
    expect(code(error)).toBe(503);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('fails promptly with 503 when a plaintext client dials a TLS listener', async () => {
    const listener = await echoListener(tls());
    const error = await within(exchange(make({}), listener.address), 5_000, 'a plaintext dial');
    expect(code(error)).toBe(503);
  });

  it('refuses a client without a certificate, or with one from another CA, under mutual TLS', async () => {
    const listener = await echoListener(tls({ requireClientCertificate: true }));
    const anonymous = make({ tls: { ca: trusted.ca } });
    expect(code(await within(exchange(anonymous, listener.address), 5_000, 'no client cert'))).toBe(
      503,
    );
    const foreign = make({ tls: { ca: trusted.ca, cert: stranger.cert, key: stranger.key } });
    expect(code(await within(exchange(foreign, listener.address), 5_000, 'a foreign cert'))).toBe(
      503,
    );
    // and keeps serving the clients it trusts
    expect(await exchange(make({ tls: tls() }), listener.address)).toBeUndefined();
  });

  it('refuses malformed PEM with 400', () => {
    let error: unknown;
    try {
      createGrpcTransport({ logger: silentLogger, tls: { cert: 'not pem', key: 'not pem' } });
    } catch (caught) {
      error = caught;
    }
    expect(code(error)).toBe(400);
  });
});
