import * as net from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { type Message, type Socket, silentLogger } from '@micro/core';
import { waitFor, within } from '@micro/testing';
import { createTcpTransport, type TcpTransport } from '../src/index.js';
import { call, echo, settings, settlesWithin, staysTrue } from './helpers.js';

const MiB = 1024 * 1024;

describe('TcpTransport backpressure', () => {
  const transports: TcpTransport[] = [];
  const servers: net.Server[] = [];
  const make = (options: Parameters<typeof createTcpTransport>[0] = {}) => {
    const transport = createTcpTransport({ logger: silentLogger, ...options });
    transports.push(transport);
    return transport;
  };
  afterEach(async () => {
    for (const transport of transports.splice(0)) await transport.close();
    for (const server of servers.splice(0)) {
      server.close();
    }
  });

  it('stalls send on a Socket its peer does not read, without stalling the other Sockets', async () => {
    const server = make();
    const client = make();
    const listener = await server.listen('127.0.0.1:0');
    let slow: Socket | undefined;
    listener.accept((socket) => {
      if (slow === undefined)
        slow = socket; // the first conversation is never read (for now)
      else echo(socket);
    });

    const socket = await client.dial(listener.address);
    const total = 40;
    let sent = 0;
    let stalled: Promise<void> | undefined;
    const sending = (async () => {
      for (let i = 0; i < total; i++) {
        const send = socket.send({ header: { Seq: String(i) }, body: Buffer.alloc(MiB, i) });
        stalled = send;
        await send;
        sent++;
      }
    })();
    await waitFor('the first message to be taken', () => sent >= 1);
    // The peer granted one window (1 MiB): the next send waits for it to read.
    expect(await settlesWithin(stalled!, 300)).toBe(false);
    expect(sent).toBeLessThanOrEqual(2);
    expect(client.stats().queuedBytes).toBeLessThanOrEqual(2 * MiB);
    expect(server.stats().bufferedBytes).toBeLessThanOrEqual(2 * MiB + 1024);

    // Another conversation on the same connection is not held up by the stalled one.
    expect(
      await within(call(client, listener.address, 'not blocked'), 2_000, 'a second call'),
    ).toBe('not blocked');
    expect(client.stats().connections).toBe(1);

    // Once the peer reads, everything arrives, in order, with memory bounded throughout.
    let peakBuffered = 0;
    const received: Message[] = [];
    const reading = (async () => {
      for (let i = 0; i < total; i++) {
        peakBuffered = Math.max(peakBuffered, server.stats().bufferedBytes);
        received.push(await slow!.recv());
      }
    })();
    await within(Promise.all([sending, reading]), 20_000, `${total} MiB through a slow reader`);
    expect(received.map((m) => m.header.Seq)).toEqual(
      Array.from({ length: total }, (_, i) => String(i)),
    );
    expect(received.every((m, i) => m.body.byteLength === MiB && m.body[0] === i % 256)).toBe(true);
    expect(peakBuffered).toBeLessThanOrEqual(2 * MiB + 1024);
  }, 30_000);

  it('stalls send when the peer stops reading the connection, keeping queued bytes bounded', async () => {
    // A peer that completes the handshake, grants a huge window, then never reads.
    let peer: net.Socket | undefined;
    const raw = net.createServer((socket) => {
      peer = socket;
      socket.pause();
      socket.write(settings([['stream-window', String(0x7fffffff)]]));
    });
    servers.push(raw);
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    const address = `127.0.0.1:${(raw.address() as net.AddressInfo).port}`;
    const client = make({ writeHighWaterMark: MiB });
    const socket = await client.dial(address);

    const limit = 200; // far more than the kernel's socket buffers hold
    let sent = 0;
    let last: Promise<void> | undefined;
    const arrayBuffersBefore = process.memoryUsage().arrayBuffers;
    const sending = (async () => {
      for (let i = 0; i < limit; i++) {
        last = socket.send({ header: {}, body: Buffer.alloc(MiB, i) }); // a fresh buffer each time
        await last;
        sent++;
      }
    })();
    sending.catch(() => undefined);
    // Sends are taken until the kernel's buffers and then the write buffer fill up;
    // from then on the pending send does not resolve.
    await waitFor('a send to stall', async () => !(await settlesWithin(last!, 300)), {
      timeout: 15_000,
    });
    expect(client.stats().queuedBytes).toBeGreaterThanOrEqual(MiB);
    expect(sent).toBeLessThan(limit);
    // At most the mark plus the one message that crossed it are queued.
    expect(client.stats().queuedBytes).toBeLessThanOrEqual(2 * MiB + 1024);
    expect(process.memoryUsage().arrayBuffers - arrayBuffersBefore).toBeLessThan(100 * MiB);

    // The peer reads again: every send completes.
    peer!.on('data', () => {});
    peer!.resume();
    await within(sending, 20_000, 'the stalled sends to complete');
    expect(sent).toBe(limit);
  }, 40_000);

  it('pauses reading a connection whose unread bytes exceed the connection limit', async () => {
    const server = make({ streamWindow: MiB, connectionBufferLimit: 2 * MiB });
    const client = make();
    const listener = await server.listen('127.0.0.1:0');
    const accepted: Socket[] = [];
    listener.accept((socket) => accepted.push(socket));
    // Eight conversations each send one window's worth, none of it read: 8 MiB would arrive.
    const sockets = await Promise.all(
      Array.from({ length: 8 }, () => client.dial(listener.address)),
    );
    await Promise.all(
      sockets.map((socket, i) => socket.send({ header: {}, body: Buffer.alloc(MiB - 64, i) })),
    );
    await waitFor('the connection to fill up', () => server.stats().bufferedBytes >= 2 * MiB);
    // Reading stopped past the limit: at most the rest of one chunk and one frame more came in.
    const bound = 3 * MiB + 64 * 1024;
    expect(await staysTrue(() => server.stats().bufferedBytes <= bound, 300)).toBe(true);
    expect(accepted.length).toBeLessThan(8);
    // Reading the queued messages resumes the connection and the rest arrives.
    const seen = await within(
      (async () => {
        const bodies: number[] = [];
        while (bodies.length < 8) {
          const socket = accepted.shift();
          if (socket === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
          else bodies.push((await socket.recv()).body[0]!);
        }
        return bodies;
      })(),
      10_000,
      'reading everything',
    );
    expect(seen.sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
});
