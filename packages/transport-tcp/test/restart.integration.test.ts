import { afterEach, describe, expect, it } from '@jest/globals';
import { isMicroError, silentLogger } from '@micro/core';
import { rejection, within } from '@micro/testing';
import { createTcpTransport, type TcpTransport } from '../src/index.js';
import { call, echo, msg, resettingProxy, text } from './helpers.js';

const code = (error: unknown) => (isMicroError(error) ? error.code : error);

describe('TcpTransport when the peer goes away', () => {
  const transports: TcpTransport[] = [];
  const make = () => {
    const transport = createTcpTransport({ logger: silentLogger });
    transports.push(transport);
    return transport;
  };
  afterEach(async () => {
    for (const transport of transports.splice(0)) await transport.close();
  });

  it('fails open Sockets with 503 when the listener closes, and reconnects once it is back', async () => {
    const server = make();
    const client = make();
    let listener = await server.listen('127.0.0.1:0');
    const address = listener.address;
    listener.accept((socket) => void socket.recv().catch(() => undefined)); // holds each call open
    const sockets = await Promise.all([
      client.dial(address),
      client.dial(address),
      client.dial(address),
    ]);
    for (const socket of sockets) await socket.send(msg('pending'));
    const pending = sockets.map((socket) => rejection(socket.recv()));

    const stopped = Date.now();
    await listener.close();
    const errors = await within(Promise.all(pending), 2_000, 'the open Sockets to fail');
    expect(errors.map(code)).toEqual([503, 503, 503]);
    expect(Date.now() - stopped).toBeLessThan(2_000);
    expect(code(await rejection(sockets[0]!.send(msg('late'))))).toBe(503);

    // The peer restarts on the same port: the next dial connects again.
    listener = await make().listen(address);
    listener.accept(echo);
    expect(await within(call(client, address, 'again'), 5_000, 'a call after the restart')).toBe(
      'again',
    );
    expect(client.stats().connections).toBe(1);
  });

  it('fails open Sockets with 503 at once when the connection is reset, and reconnects', async () => {
    const server = make();
    const client = make();
    const listener = await server.listen('127.0.0.1:0');
    listener.accept((socket) => void socket.recv().catch(() => undefined));
    const proxy = await resettingProxy(listener.address);
    try {
      const socket = await client.dial(proxy.address);
      await socket.send(msg('hello'));
      const pending = rejection(socket.recv());
      // Let the message cross the proxy so the conversation is really open on both ends.
      await within(
        (async () => {
          while (server.stats().sockets === 0)
            await new Promise((resolve) => setTimeout(resolve, 5));
        })(),
        2_000,
        'the server to see the Socket',
      );
      const crashed = Date.now();
      proxy.reset();
      const error = await within(pending, 2_000, 'the Socket to fail after the reset');
      expect(code(error)).toBe(503);
      expect(Date.now() - crashed).toBeLessThan(1_000);

      listener.accept(echo);
      expect(
        await within(call(client, proxy.address, 'back'), 5_000, 'a call after the reset'),
      ).toBe('back');
      expect(proxy.connections()).toBe(2);
    } finally {
      await proxy.close();
    }
  });

  it('delivers what arrived before the connection died, then fails with 503', async () => {
    const server = make();
    const client = make();
    const listener = await server.listen('127.0.0.1:0');
    let serverSide: Promise<void> = Promise.resolve();
    listener.accept((socket) => {
      serverSide = (async () => {
        await socket.recv();
        await socket.send(msg('one'));
        await socket.send(msg('two'));
      })();
    });
    const socket = await client.dial(listener.address);
    await socket.send(msg('go'));
    await serverSide;
    // Wait until both answers are here, unread, then kill the connection.
    await within(
      (async () => {
        while (client.stats().bufferedBytes === 0)
          await new Promise((resolve) => setTimeout(resolve, 5));
      })(),
      2_000,
      'the answers to arrive',
    );
    await listener.close();
    expect(text(await socket.recv())).toBe('one');
    expect(text(await socket.recv())).toBe('two');
    expect(code(await rejection(within(socket.recv(), 2_000, 'recv after the end')))).toBe(503);
  });

  it('fails every Socket with 503 when the transport itself closes', async () => {
    const server = make();
    const client = make();
    const listener = await server.listen('127.0.0.1:0');
    listener.accept(() => {});
    const socket = await client.dial(listener.address);
    await socket.send(msg('x'));
    const pending = rejection(socket.recv());
    await client.close();
    expect(code(await within(pending, 2_000, 'recv after transport close'))).toBe(503);
    expect(code(await rejection(client.dial(listener.address)))).toBe(503);
  });
});
