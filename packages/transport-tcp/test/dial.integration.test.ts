import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { isMicroError, type MicroError, silentLogger, timeout } from '@micro/core';
import { recordingLogger, rejection, waitFor, within } from '@micro/testing';
import { createTcpTransport, type TcpTransport } from '../src/index.js';
import { call, echo, mutualTlsOptions, pem, resettingProxy, tlsOptions } from './helpers.js';

const asMicro = (error: unknown): MicroError => {
  if (!isMicroError(error)) throw new Error(`not a MicroError: ${String(error)}`);
  return error;
};

describe('TcpTransport dialing', () => {
  const transports: TcpTransport[] = [];
  const servers: net.Server[] = [];
  const make = (options: Parameters<typeof createTcpTransport>[0] = {}) => {
    const transport = createTcpTransport({ logger: silentLogger, ...options });
    transports.push(transport);
    return transport;
  };
  afterEach(async () => {
    for (const transport of transports.splice(0)) await transport.close();
    for (const server of servers.splice(0)) server.close();
  });

  /** A TCP server that accepts and then says nothing: a dial to it can only time out. */
  async function silentServer(): Promise<string> {
    const held: net.Socket[] = [];
    const server = net.createServer((socket) => held.push(socket));
    server.on('close', () => {
      for (const socket of held) socket.destroy();
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  }

  it('fails a refused dial with a 503 naming the address', async () => {
    const listener = await make().listen('127.0.0.1:0');
    const address = listener.address;
    await listener.close();
    const error = asMicro(await rejection(make().dial(address)));
    expect(error.code).toBe(503);
    expect(error.detail).toBe(`connection refused: ${address}`);
    expect(error.cause).toBeDefined();
  });

  it('fails a dial to an unresolvable host with a 503 naming the address', async () => {
    const error = asMicro(
      await rejection(within(make().dial('no-such-host.invalid:8080'), 15_000, 'a DNS failure')),
    );
    expect(error.code).toBe(503);
    expect(error.detail).toContain('no-such-host.invalid:8080');
  }, 20_000);

  it('fails a dial that gets no handshake within the timeout with a 503', async () => {
    const address = await silentServer();
    const client = make({ dialTimeout: 5_000 });
    const started = Date.now();
    const error = asMicro(await rejection(client.dial(address, { timeout: 200 })));
    expect(error.code).toBe(503);
    expect(error.detail).toContain(address);
    expect(error.detail).toMatch(/timeout/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(Date.now() - started).toBeLessThan(2_000);
    // The transport's own default applies when the dial gives none.
    const quick = make({ dialTimeout: 150 });
    expect(asMicro(await rejection(quick.dial(address))).code).toBe(503);
  });

  it('fails a dial with no time left at once', async () => {
    const address = await silentServer();
    expect(asMicro(await rejection(make().dial(address, { timeout: 0 }))).code).toBe(503);
  });

  it('stops a dial when its signal aborts, with the reason when it is a MicroError', async () => {
    const address = await silentServer();
    const client = make();
    const controller = new AbortController();
    const pending = rejection(client.dial(address, { signal: controller.signal }));
    controller.abort();
    expect(asMicro(await within(pending, 1_000, 'an aborted dial')).code).toBe(499);

    const deadline = new AbortController();
    const dialing = rejection(client.dial(address, { signal: deadline.signal }));
    deadline.abort(timeout('go.micro.client', 'call timeout'));
    const error = asMicro(await within(dialing, 1_000, 'a dial aborted by a deadline'));
    expect(error.code).toBe(408);
    expect(error.detail).toBe('call timeout');

    expect(
      asMicro(await rejection(client.dial(address, { signal: AbortSignal.abort() }))).code,
    ).toBe(499);
  });

  it('refuses a malformed address with 400', async () => {
    for (const address of ['no-port', 'host:', 'host:99999', '::1:80', '[::1]80']) {
      expect(asMicro(await rejection(make().dial(address))).code).toBe(400);
    }
    expect(asMicro(await rejection(make().listen('nowhere'))).code).toBe(400);
  });

  it('reports the real port of a :0 listener and refuses a port in use with 503', async () => {
    const transport = make();
    const listener = await transport.listen('127.0.0.1:0');
    expect(listener.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(listener.address.endsWith(':0')).toBe(false);
    const error = asMicro(await rejection(transport.listen(listener.address)));
    expect(error.code).toBe(503);
    expect(error.detail).toContain(listener.address);
  });

  it('listens on IPv6 loopback', async () => {
    const server = make();
    let listener: Awaited<ReturnType<TcpTransport['listen']>>;
    try {
      listener = await server.listen('[::1]:0');
    } catch {
      return; // no IPv6 on this machine
    }
    listener.accept(echo);
    expect(listener.address).toMatch(/^\[::1\]:\d+$/);
    expect(await call(make(), listener.address, 'v6')).toBe('v6');
  });

  it('fails a TLS dial to a server it does not trust with a 503', async () => {
    const server = make({
      tls: { server: { key: pem.otherServerKey, cert: pem.otherServerCert } },
    });
    const listener = await server.listen('127.0.0.1:0');
    listener.accept(echo);
    const error = asMicro(await rejection(make({ tls: tlsOptions }).dial(listener.address)));
    expect(error.code).toBe(503);
    expect(error.detail).toContain(listener.address);
    expect(error.detail).toMatch(/TLS/);
  });

  it('refuses a client without a certificate under mutual TLS', async () => {
    const logger = recordingLogger();
    const server = make({ logger, tls: mutualTlsOptions });
    const listener = await server.listen('127.0.0.1:0');
    listener.accept(echo);
    const anonymous = make({ tls: { client: { ca: pem.ca } } });
    const error = asMicro(await rejection(anonymous.dial(listener.address)));
    expect(error.code).toBe(503);
    expect(await call(make({ tls: mutualTlsOptions }), listener.address, 'trusted')).toBe(
      'trusted',
    );
  });

  it('refuses plain TCP on a TLS listener, and TLS on a plain one', async () => {
    const secure = await make({ tls: tlsOptions }).listen('127.0.0.1:0');
    secure.accept(echo);
    expect(asMicro(await rejection(make({ dialTimeout: 1_000 }).dial(secure.address))).code).toBe(
      503,
    );
    const plain = await make().listen('127.0.0.1:0');
    plain.accept(echo);
    expect(
      asMicro(await rejection(make({ tls: tlsOptions, dialTimeout: 1_000 }).dial(plain.address)))
        .code,
    ).toBe(503);
  });

  it('closes a dialed connection after it has been idle, and dials again on demand', async () => {
    const server = make();
    const client = make({ idleTimeout: 100 });
    const listener = await server.listen('127.0.0.1:0');
    listener.accept(echo);
    const proxy = await resettingProxy(listener.address);
    try {
      expect(await call(client, proxy.address, 'one')).toBe('one');
      await waitFor('the idle connection to close', () => client.stats().connections === 0, {
        timeout: 2_000,
      });
      expect(await call(client, proxy.address, 'two')).toBe('two');
      expect(proxy.connections()).toBe(2);

      // A connection with an open Socket is never idle.
      const socket = await client.dial(proxy.address);
      const opened = Date.now();
      await waitFor('four idle timeouts to pass', () => Date.now() - opened > 400);
      expect(client.stats().connections).toBe(1);
      await socket.close();
    } finally {
      await proxy.close();
    }
  });

  it('lets a process exit while its dialed connection is idle', async () => {
    const server = make();
    const listener = await server.listen('127.0.0.1:0');
    listener.accept((socket) => void echo(socket));
    // A caller that dials, talks and closes its Socket, but never closes the transport.
    const script = `
      import { createTcpTransport } from ${JSON.stringify(join(__dirname, '../dist/index.js'))};
      const transport = createTcpTransport();
      const socket = await transport.dial(${JSON.stringify(listener.address)});
      await socket.send({ header: {}, body: Buffer.from('hi') });
      await socket.recv();
      await socket.close();
      console.log('done');`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'pipe' });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const code = await within(
      new Promise<number | null>((resolve) => child.once('exit', resolve)),
      10_000,
      'the caller process to exit with its connection still pooled',
    ).finally(() => child.kill('SIGKILL'));
    expect([code, output.trim()]).toEqual([0, 'done']);
  });

  it('validates its options', () => {
    expect(() => createTcpTransport({ maxMessageSize: 0 })).toThrow(/maxMessageSize/);
    expect(() => createTcpTransport({ streamWindow: -1 })).toThrow(/streamWindow/);
    expect(() => createTcpTransport({ idleTimeout: 1.5 })).toThrow(/idleTimeout/);
    expect(() => createTcpTransport({ idleTimeout: 0 })).not.toThrow();
    expect(() => createTcpTransport({ maxMessageSize: 2 ** 32 })).toThrow(/4 GiB/);
  });
});
