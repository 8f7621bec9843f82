import * as net from 'node:net';
import { afterAll, describe, expect, it } from '@jest/globals';
import {
  isMicroError,
  type Listener,
  type Logger,
  type Message,
  type Socket,
  silentLogger,
} from '@micro/core';
import { rejection, waitFor, within } from '@micro/testing';
import {
  createGrpcTransport,
  type GrpcTransport,
  type GrpcTransportOptions,
} from '../src/index.js';
import { startProxy, type TcpProxy } from './proxy.js';

const code = (error: unknown) => (isMicroError(error) ? error.code : error);
const text = (message: Message) => Buffer.from(message.body).toString();
const msg = (body: string | Uint8Array, header: Record<string, string> = {}): Message => ({
  header,
  body: typeof body === 'string' ? Buffer.from(body) : body,
});

const transports: GrpcTransport[] = [];
const listeners: Listener[] = [];
const proxies: TcpProxy[] = [];
const servers: net.Server[] = [];
const silentConnections: net.Socket[] = [];

function make(options: GrpcTransportOptions = {}): GrpcTransport {
  const transport = createGrpcTransport({ logger: silentLogger, ...options });
  transports.push(transport);
  return transport;
}

afterAll(async () => {
  for (const listener of listeners) await listener.close();
  for (const transport of transports) await transport.close();
  for (const proxy of proxies) await proxy.close();
  // grpc-js does not abort a connection attempt that never got an HTTP/2 answer
  // when its channel closes: the silent servers drop them here.
  for (const connection of silentConnections) connection.destroy();
  for (const server of servers) await new Promise((resolve) => server.close(resolve));
});

/** A listener echoing every message; `sockets` holds what it accepted, `failures` how their recv ended. */
async function echo(
  address = '127.0.0.1:0',
  options: GrpcTransportOptions = {},
): Promise<{ listener: Listener; sockets: Socket[]; failures: unknown[] }> {
  const listener = await make(options).listen(address);
  listeners.push(listener);
  const sockets: Socket[] = [];
  const failures: unknown[] = [];
  listener.accept((socket) => {
    sockets.push(socket);
    void (async () => {
      while (true) {
        let message: Message;
        try {
          message = await socket.recv();
        } catch (error) {
          failures.push(error);
          return;
        }
        await socket.send(message).catch(() => {});
      }
    })();
  });
  return { listener, sockets, failures };
}

async function roundTrip(transport: GrpcTransport, address: string, body = 'ping'): Promise<void> {
  const socket = await transport.dial(address);
  try {
    await socket.send(msg(body));
    expect(text(await within(socket.recv(), 5_000, 'an echo'))).toBe(body);
  } finally {
    await socket.close();
  }
}

describe('peer restart', () => {
  it('fails dials promptly while the peer is down and reconnects at once when it is back', async () => {
    const first = await echo();
    const address = first.listener.address;
    const client = make();
    await roundTrip(client, address);
    await first.listener.close();

    // Down: every dial fails fast, however many times the channel has failed.
    for (let i = 0; i < 3; i++) {
      const started = Date.now();
      expect(code(await rejection(within(client.dial(address), 5_000, 'a dial while down')))).toBe(
        503,
      );
      expect(Date.now() - started).toBeLessThan(2_000);
    }

    // Back on the same address: the next dial connects now, not after a reconnect backoff.
    await echo(address);
    const started = Date.now();
    await roundTrip(client, address, 'again');
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('fails every socket on a broken connection with 503, then reconnects', async () => {
    const { listener, failures } = await echo();
    const proxy = await startProxy(listener.address);
    proxies.push(proxy);
    const client = make();
    const open = await Promise.all(Array.from({ length: 20 }, () => client.dial(proxy.address)));
    await Promise.all(open.map((socket) => socket.send(msg('hello'))));
    await Promise.all(open.map((socket) => socket.recv()));
    expect(proxy.accepted).toBe(1);
    const pending = open.map((socket) => rejection(socket.recv()));
    const started = Date.now();
    proxy.cut();
    const errors = await within(Promise.all(pending), 5_000, 'the sockets to fail');
    expect(errors.map(code)).toEqual(open.map(() => 503));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(code(await rejection(open[0]!.send(msg('late'))))).toBe(503);
    await waitFor('the server side to see the broken connection', () => failures.length === 20);
    expect(failures.map(code)).toEqual(open.map(() => 503));
    await roundTrip(client, proxy.address, 'reconnected');
    expect(proxy.accepted).toBe(2);
  });

  it('fails sockets with 503 when keepalive pings go unanswered', async () => {
    const { listener } = await echo();
    const proxy = await startProxy(listener.address);
    proxies.push(proxy);
    const client = make({ keepalive: { time: 200, timeout: 300 } });
    const socket = await client.dial(proxy.address);
    await socket.send(msg('hello'));
    await socket.recv();
    const pending = rejection(socket.recv());
    proxy.stall();
    expect(code(await within(pending, 5_000, 'keepalive to notice the stall'))).toBe(503);
  });
});

describe('listener close', () => {
  it('ends open streams with 503 on both sides, within its bound, and refuses new dials', async () => {
    const listener = await make({ shutdownTimeout: 500 }).listen('127.0.0.1:0');
    listeners.push(listener);
    const accepted: Socket[] = [];
    listener.accept((socket) => accepted.push(socket));
    const client = make();
    const open = await Promise.all(Array.from({ length: 50 }, () => client.dial(listener.address)));
    await Promise.all(open.map((socket, i) => socket.send(msg(`hello ${i}`))));
    await waitFor('every stream to be accepted', () => accepted.length === 50);
    await Promise.all(accepted.map((socket) => socket.recv()));
    // One server socket is stuck in a send the client never reads (flow control).
    const stuck = accepted[0]!.send(msg(new Uint8Array(4 * 1024 * 1024)));
    const clientSide = open.map((socket) => rejection(socket.recv().then(() => socket.recv())));
    const serverSide = accepted.map((socket) => rejection(socket.recv()));

    const started = Date.now();
    await within(listener.close(), 5_000, 'the listener to close');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect((await within(Promise.all(clientSide), 5_000, 'client sockets')).map(code)).toEqual(
      open.map(() => 503),
    );
    expect((await within(Promise.all(serverSide), 5_000, 'server sockets')).map(code)).toEqual(
      accepted.map(() => 503),
    );
    expect(code(await rejection(within(stuck, 5_000, 'the stuck send')))).toBe(503);
    expect(code(await rejection(accepted[1]!.send(msg('late'))))).toBe(503);
    expect(code(await rejection(within(client.dial(listener.address), 5_000, 'a dial')))).toBe(503);
    await listener.close();
  });

  it('closes listeners and fails dialed sockets when the transport closes', async () => {
    const transport = make();
    const { listener } = await echo();
    const ownListener = await transport.listen('127.0.0.1:0');
    const socket = await transport.dial(listener.address);
    await socket.send(msg('hello'));
    await socket.recv();
    const pending = rejection(socket.recv());
    await transport.close();
    expect(code(await within(pending, 5_000, 'recv after transport close'))).toBe(503);
    expect(code(await rejection(within(make().dial(ownListener.address), 5_000, 'a dial')))).toBe(
      503,
    );
  });
});

describe('limits', () => {
  it('refuses a header over maxHeaderSize with 413 before writing, and the socket stays usable', async () => {
    const { listener, sockets } = await echo();
    const socket = await make({ maxHeaderSize: 1024 }).dial(listener.address);
    const error = await rejection(socket.send(msg('x', { big: 'h'.repeat(1024) })));
    expect(code(error)).toBe(413);
    await socket.send(msg('small', { ok: 'yes' }));
    const reply = await within(socket.recv(), 5_000, 'the echo');
    expect([text(reply), reply.header]).toEqual(['small', { ok: 'yes' }]);
    expect(sockets).toHaveLength(1);
    await socket.close();
  });

  it('slows a fast writer down to its reader: sends stay pending while nobody reads', async () => {
    const listener = await make().listen('127.0.0.1:0');
    listeners.push(listener);
    const accepted: Socket[] = [];
    listener.accept((socket) => accepted.push(socket));
    const socket = await make().dial(listener.address);
    const chunk = new Uint8Array(1024 * 1024);
    let written = 0;
    let pending: Promise<void> | undefined;
    for (let i = 0; i < 32; i++) {
      const send = socket.send(msg(chunk));
      const done = await within(send, 1_000, 'a send').then(
        () => true,
        () => false,
      );
      if (!done) {
        pending = send;
        break;
      }
      written++;
    }
    // At most a message buffered by the socket, one in grpc-js's decoder and the
    // HTTP/2 windows: nowhere near the 32 MiB offered.
    expect(pending).toBeDefined();
    expect(written).toBeLessThan(8);
    await waitFor('the stream to be accepted', () => accepted.length === 1);
    const server = accepted[0]!;
    for (let i = 0; i <= written; i++) {
      expect((await within(server.recv(), 5_000, 'a message')).body.byteLength).toBe(chunk.length);
    }
    await within(pending!, 5_000, 'the pending send once the reader reads');
    await socket.close();
  });

  it('carries 1000 concurrent streams over one connection', async () => {
    const { listener, sockets } = await echo();
    const client = make();
    const open = await within(
      Promise.all(Array.from({ length: 1000 }, () => client.dial(listener.address))),
      10_000,
      '1000 dials',
    );
    await Promise.all(open.map((socket, i) => socket.send(msg(`stream ${i}`))));
    await waitFor('1000 streams open at the server at once', () => sockets.length === 1000, {
      timeout: 10_000,
    });
    const replies = await within(
      Promise.all(open.map((socket) => socket.recv())),
      10_000,
      '1000 echoes',
    );
    expect(replies.map(text)).toEqual(open.map((_, i) => `stream ${i}`));
    expect(new Set(sockets.map((socket) => socket.remote)).size).toBe(1);
    await Promise.all(open.map((socket) => socket.close()));
  }, 30_000);
});

describe('dialing', () => {
  /** A TCP server that accepts connections and never answers. */
  async function silent(): Promise<string> {
    const server = net.createServer((socket) => {
      silentConnections.push(socket);
      socket.on('error', () => {});
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  }

  it('fails with 503 at the dial timeout when the server never answers', async () => {
    const address = await silent();
    const started = Date.now();
    const error = await rejection(
      within(make().dial(address, { timeout: 300 }), 5_000, 'a dial to a silent server'),
    );
    expect(code(error)).toBe(503);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('honours dialTimeout from the options', async () => {
    const address = await silent();
    const started = Date.now();
    expect(code(await rejection(make({ dialTimeout: 300 }).dial(address)))).toBe(503);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('fails a waiting dial with 503 when the transport closes', async () => {
    const address = await silent();
    const transport = make();
    const dial = transport.dial(address, { timeout: 10_000 });
    await transport.close();
    expect(code(await rejection(within(dial, 2_000, 'a dial during close')))).toBe(503);
  });

  it('stops waiting when the signal aborts', async () => {
    const address = await silent();
    const controller = new AbortController();
    const dial = make().dial(address, { signal: controller.signal });
    const started = Date.now();
    setTimeout(() => controller.abort(), 100);
    expect(code(await rejection(within(dial, 5_000, 'an aborted dial')))).toBe(499);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('opens streams without a new connection on a ready channel, and reconnects after idling', async () => {
    const { listener, sockets } = await echo();
    const client = make({ idleTimeout: 100 });
    await roundTrip(client, listener.address);
    await roundTrip(client, listener.address);
    expect(new Set(sockets.map((socket) => socket.remote)).size).toBe(1);
    // After idleTimeout without a socket the channel closes; the next dial connects anew.
    await waitFor(
      'a new connection after the idle timeout',
      async () => {
        await roundTrip(client, listener.address);
        return new Set(sockets.map((socket) => socket.remote)).size === 2;
      },
      { interval: 300 },
    );
  });
});

describe('accept handler failures', () => {
  it('logs a throwing handler, fails that socket with 503 and keeps serving', async () => {
    const logged: string[] = [];
    const logger: Logger = { ...silentLogger, error: (message) => logged.push(message) };
    const listener = await make({ logger }).listen('127.0.0.1:0');
    listeners.push(listener);
    let calls = 0;
    listener.accept((socket) => {
      if (++calls === 1) throw new Error('handler bug');
      void socket.recv().then((message) => socket.send(message));
    });
    const client = make();
    const broken = await client.dial(listener.address);
    await broken.send(msg('first')).catch(() => {});
    expect(code(await rejection(within(broken.recv(), 5_000, 'recv')))).toBe(503);
    expect(logged).toEqual(['accept handler threw']);
    await roundTrip(client, listener.address, 'second');
  });
});
