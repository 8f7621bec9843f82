import { afterEach, describe, expect, it } from '@jest/globals';
import { isMicroError, parseError, type Socket, silentLogger } from '@micro/core';
import { rejection, within } from '@micro/testing';
import { createTcpTransport, type TcpTransport } from '../src/index.js';
import {
  call,
  echo,
  frame,
  headerBlock,
  msg,
  parseFrames,
  rawClient,
  settings,
  TYPE,
} from './helpers.js';

const code = (error: unknown) => (isMicroError(error) ? error.code : error);

describe('TcpTransport message limits', () => {
  const transports: TcpTransport[] = [];
  const make = (options: Parameters<typeof createTcpTransport>[0] = {}) => {
    const transport = createTcpTransport({ logger: silentLogger, ...options });
    transports.push(transport);
    return transport;
  };
  afterEach(async () => {
    for (const transport of transports.splice(0)) await transport.close();
  });

  it('refuses an oversized body or header with 413 and writes nothing', async () => {
    const server = make();
    const client = make({ maxMessageSize: 1024, maxHeaderSize: 256 });
    const listener = await server.listen('127.0.0.1:0');
    const accepted: Socket[] = [];
    listener.accept((socket) => accepted.push(socket));
    const socket = await client.dial(listener.address);

    const body = await rejection(socket.send({ header: {}, body: new Uint8Array(1025) }));
    expect(code(body)).toBe(413);
    expect(String((body as Error).message)).toMatch(/1025 bytes exceeds the maximum of 1024/);
    const header = await rejection(
      socket.send({ header: { Big: 'x'.repeat(300) }, body: new Uint8Array(0) }),
    );
    expect(code(header)).toBe(413);
    const unicode = await rejection(
      // 100 characters, 300 bytes of UTF-8: the limit is in bytes.
      socket.send({ header: { K: '€'.repeat(100) }, body: new Uint8Array(0) }),
    );
    expect(code(unicode)).toBe(413);
    expect(client.stats().queuedBytes).toBe(0);

    // The Socket is still usable, and the refused messages never reached the listener.
    await socket.send(msg('fits'));
    await within(
      (async () => {
        while (accepted.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      })(),
      2_000,
      'the message that fits',
    );
    expect((await accepted[0]!.recv()).body.byteLength).toBe(4);
    await socket.close();
  });

  it("refuses with 413 a body over the peer's smaller limit, learned in the handshake", async () => {
    const server = make({ maxMessageSize: 1000 });
    const client = make(); // 4 MiB itself
    const listener = await server.listen('127.0.0.1:0');
    listener.accept(echo);
    const socket = await client.dial(listener.address);
    const error = await rejection(socket.send({ header: {}, body: new Uint8Array(1001) }));
    expect(code(error)).toBe(413);
    await socket.send({ header: {}, body: new Uint8Array(1000) });
    expect((await socket.recv()).body.byteLength).toBe(1000);
    await socket.close();
  });

  it('answers a raw peer that sends an oversized frame with a 413 reset, closes it, and serves the rest', async () => {
    const server = make({ maxMessageSize: 1024 });
    const client = make();
    const listener = await server.listen('127.0.0.1:0');
    listener.accept(echo);

    const raw = await rawClient(listener.address);
    // A stream that is already open when the oversized frame comes: it fails too.
    raw.socket.write(
      Buffer.concat([settings(), frame(3, TYPE.data, headerBlock([]), Buffer.from('first'))]),
    );
    await within(
      (async () => {
        while (!parseFrames(raw.received()).some((f) => f.type === TYPE.data))
          await new Promise((resolve) => setTimeout(resolve, 5));
      })(),
      2_000,
      'the echo of the first message',
    );
    raw.socket.write(frame(3, TYPE.data, headerBlock([]), Buffer.alloc(2048)));
    await within(raw.closed, 5_000, 'the listener to close the connection');
    const frames = parseFrames(raw.received());
    expect(frames[0]?.type).toBe(TYPE.settings);
    expect(frames.find((f) => f.type === TYPE.data)?.body.toString()).toBe('first');
    const reset = frames.find((f) => f.type === TYPE.reset);
    expect(reset?.stream).toBe(3);
    expect(parseError(reset!.body.toString()).code).toBe(413);

    expect(await call(client, listener.address, 'others are served')).toBe('others are served');
  });

  it("refuses a dial past the peer's max-streams with 503, and recovers when a Socket closes", async () => {
    const server = make({ maxStreams: 2 });
    const client = make();
    const listener = await server.listen('127.0.0.1:0');
    listener.accept(echo);
    const first = await client.dial(listener.address);
    const second = await client.dial(listener.address);
    const error = await rejection(client.dial(listener.address));
    expect(code(error)).toBe(503);
    expect((error as Error).message).toMatch(/allows 2 per connection/);
    await first.close(); // never used: its id is free at once
    const third = await client.dial(listener.address);
    await third.send(msg('three'));
    expect((await third.recv()).body.toString()).toBe('three');
    await Promise.all([second.close(), third.close()]);
  });

  it('answers a peer that ignores the stream window by closing its connection', async () => {
    const server = make({ streamWindow: 4096 });
    const listener = await server.listen('127.0.0.1:0');
    listener.accept(() => {}); // never reads
    const raw = await rawClient(listener.address);
    const chunk = frame(1, TYPE.data, headerBlock([]), Buffer.alloc(3000));
    raw.socket.write(Buffer.concat([settings(), chunk, chunk, chunk]));
    await within(raw.closed, 5_000, 'the listener to close the connection');
    const reset = parseFrames(raw.received()).find((f) => f.type === TYPE.reset);
    expect(reset?.stream).toBe(1);
  });
});
