import { afterEach, describe, expect, it } from '@jest/globals';
import { silentLogger } from '@micro/core';
import { within } from '@micro/testing';
import { createTcpTransport, type TcpTransport } from '../src/index.js';
import { call, echo, msg, resettingProxy, text } from './helpers.js';

describe('TcpTransport multiplexing', () => {
  const transports: TcpTransport[] = [];
  const make = () => {
    const transport = createTcpTransport({ logger: silentLogger });
    transports.push(transport);
    return transport;
  };
  afterEach(async () => {
    for (const transport of transports.splice(0)) await transport.close();
  });

  it('carries 1000 concurrent conversations over one TCP connection', async () => {
    const server = make();
    const client = make();
    const listener = await server.listen('127.0.0.1:0');
    let accepted = 0;
    listener.accept((socket) => {
      accepted++;
      echo(socket);
    });
    // Count TCP connections where they are made: through a proxy in front of the listener.
    const proxy = await resettingProxy(listener.address);
    try {
      const sockets = await Promise.all(
        Array.from({ length: 1000 }, () => client.dial(proxy.address)),
      );
      expect(client.stats()).toMatchObject({ connections: 1, sockets: 1000 });
      await within(
        Promise.all(
          sockets.map(async (socket, i) => {
            for (let round = 0; round < 3; round++) {
              await socket.send(msg(`${i}.${round}`, { Conversation: String(i) }));
              const reply = await socket.recv();
              expect(text(reply)).toBe(`${i}.${round}`);
              expect(reply.header.Conversation).toBe(String(i));
            }
          }),
        ),
        20_000,
        '1000 conversations',
      );
      expect(accepted).toBe(1000);
      expect(server.stats()).toMatchObject({ connections: 1, sockets: 1000 });
      await Promise.all(sockets.map((socket) => socket.close()));
      expect(proxy.connections()).toBe(1);
      // Every stream is released on both sides once both ends have closed.
      await within(
        (async () => {
          while (client.stats().sockets + server.stats().sockets > 0)
            await new Promise((resolve) => setTimeout(resolve, 5));
        })(),
        5_000,
        'the streams to be released',
      );
    } finally {
      await proxy.close();
    }
  }, 30_000);

  it('shares one connect among concurrent first dials and reuses it afterwards', async () => {
    const server = make();
    const client = make();
    const listener = await server.listen('127.0.0.1:0');
    listener.accept(echo);
    const proxy = await resettingProxy(listener.address);
    try {
      const sockets = await Promise.all(
        Array.from({ length: 20 }, () => client.dial(proxy.address)),
      );
      expect(proxy.connections()).toBe(1);
      for (const socket of sockets) await socket.close();
      for (let i = 0; i < 50; i++)
        expect(await call(client, proxy.address, `call ${i}`)).toBe(`call ${i}`);
      expect(proxy.connections()).toBe(1);
      // The last stream is released once the listener's CLOSE has come back.
      await within(
        (async () => {
          while (client.stats().sockets > 0) await new Promise((resolve) => setTimeout(resolve, 5));
        })(),
        2_000,
        'the last stream to be released',
      );
    } finally {
      await proxy.close();
    }
  });

  it('answers a conversation nobody accepts with 503, and one whose handler throws with 500', async () => {
    const server = make();
    const client = make();
    const listener = await server.listen('127.0.0.1:0');
    const unaccepted = await client.dial(listener.address);
    await unaccepted.send(msg('anyone?'));
    await expect(unaccepted.recv()).rejects.toMatchObject({ code: 503 });

    listener.accept(() => {
      throw new Error('handler bug');
    });
    const failing = await client.dial(listener.address);
    await failing.send(msg('boom'));
    await expect(failing.recv()).rejects.toMatchObject({ code: 500 });

    listener.accept(echo);
    expect(await call(client, listener.address, 'still serving')).toBe('still serving');
  });

  it('keeps a conversation open in both directions until each side closes', async () => {
    const server = make();
    const client = make();
    const listener = await server.listen('127.0.0.1:0');
    const serverDone = new Promise<string[]>((resolve) => {
      listener.accept(async (socket) => {
        const seen: string[] = [];
        try {
          while (true) seen.push(text(await socket.recv()));
        } catch {
          // the client closed: send after that is refused, the close is idempotent
          await expect(socket.send(msg('late'))).rejects.toMatchObject({ code: 503 });
          await socket.close();
          await socket.close();
          resolve(seen);
        }
      });
    });
    const socket = await client.dial(listener.address);
    for (const word of ['a', 'b', 'c']) await socket.send(msg(word));
    await socket.close();
    await socket.close();
    expect(await within(serverDone, 5_000, 'the server to see the close')).toEqual(['a', 'b', 'c']);
  });
});
