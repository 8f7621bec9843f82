import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type Listener, parseError, silentLogger } from '@micro/core';
import { recordingLogger, within } from '@micro/testing';
import { createTcpTransport, type TcpTransport } from '../src/index.js';
import {
  call,
  echo,
  frame,
  headerBlock,
  parseFrames,
  rawClient,
  settings,
  TYPE,
} from './helpers.js';

/** A deterministic stream of pseudo-random bytes (mulberry32). */
function randomBytes(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  let state = seed >>> 0;
  for (let i = 0; i < length; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    bytes[i] = ((t ^ (t >>> 14)) >>> 0) & 0xff;
  }
  return bytes;
}

describe('TcpTransport against garbage from the network', () => {
  const logger = recordingLogger();
  let server: TcpTransport;
  let client: TcpTransport;
  let listener: Listener;

  beforeAll(async () => {
    server = createTcpTransport({ logger, maxMessageSize: 64 * 1024 });
    client = createTcpTransport({ logger: silentLogger });
    listener = await server.listen('127.0.0.1:0');
    listener.accept(echo);
  });

  afterAll(async () => {
    await client.close();
    await server.close();
  });

  /**
   * Sends `bytes` from a raw connection while a well-behaved client keeps calling;
   * expects the listener to close the raw connection (and only it) and the
   * well-behaved client to be answered throughout.
   */
  async function expectOnlyThatConnectionClosed(bytes: Buffer, options: { end?: boolean } = {}) {
    let stop = false;
    let answered = 0;
    const calls = (async () => {
      while (!stop) {
        expect(await call(client, listener.address, `ping ${answered}`)).toBe(`ping ${answered}`);
        answered++;
      }
    })();
    await within(
      (async () => {
        while (answered < 5) await new Promise((resolve) => setImmediate(resolve));
      })(),
      5_000,
      'the first answers',
    );
    const before = answered;
    const warnings = logger.lines.filter((line) => line.level === 'warn').length;
    const raw = await rawClient(listener.address);
    raw.socket.write(bytes);
    if (options.end) raw.socket.end();
    await within(raw.closed, 5_000, 'the listener to close the garbage connection');
    const after = answered;
    await within(
      (async () => {
        while (answered < after + 5) await new Promise((resolve) => setImmediate(resolve));
      })(),
      5_000,
      'answers after the garbage',
    );
    stop = true;
    await calls;
    expect(answered).toBeGreaterThan(before);
    expect(logger.lines.filter((line) => line.level === 'warn').length).toBeGreaterThan(warnings);
    // Only the well-behaved client's connection is left.
    expect(server.stats().connections).toBe(1);
    return raw.received();
  }

  it('closes a connection that sends random bytes', async () => {
    await expectOnlyThatConnectionClosed(randomBytes(4096, 1));
  });

  it('closes a connection that sends random bytes after a valid handshake', async () => {
    await expectOnlyThatConnectionClosed(Buffer.concat([settings(), randomBytes(4096, 7)]));
  });

  it('closes a connection that speaks another protocol (HTTP)', async () => {
    await expectOnlyThatConnectionClosed(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  });

  it('closes a connection that sends DATA before SETTINGS', async () => {
    await expectOnlyThatConnectionClosed(frame(1, TYPE.data, headerBlock([]), Buffer.from('hi')));
  });

  it('drops a truncated frame when the peer hangs up, and logs it', async () => {
    const whole = frame(
      1,
      TYPE.data,
      headerBlock([['Content-Type', 'text/plain']]),
      Buffer.alloc(500),
    );
    await expectOnlyThatConnectionClosed(Buffer.concat([settings(), whole.subarray(0, 200)]), {
      end: true,
    });
    expect(logger.lines.some((line) => /middle of a frame/.test(line.message))).toBe(true);
  });

  it('answers a 2 GiB length prefix with a 413 reset and closes, without buffering it', async () => {
    const prefix = Buffer.alloc(14);
    prefix.writeUInt32BE(0x80000000, 0);
    prefix.writeUInt32BE(1, 4);
    prefix[8] = TYPE.data;
    // Only the prefix is sent: the listener must not wait for 2 GiB to arrive.
    const received = await expectOnlyThatConnectionClosed(Buffer.concat([settings(), prefix]));
    const reset = parseFrames(received).find((f) => f.type === TYPE.reset);
    expect(reset?.stream).toBe(1);
    expect(parseError(reset!.body.toString()).code).toBe(413);
  });

  it('closes a connection whose header bytes are not UTF-8', async () => {
    const header = headerBlock([[Buffer.from([0xff, 0xfe, 0x41]), 'value']]);
    await expectOnlyThatConnectionClosed(
      Buffer.concat([settings(), frame(1, TYPE.data, header, Buffer.from('x'))]),
    );
  });

  it('closes a connection whose header lengths do not add up', async () => {
    const header = headerBlock([['key', 'value']]);
    header.writeUInt32BE(1000, 4); // the value claims 1000 bytes
    await expectOnlyThatConnectionClosed(Buffer.concat([settings(), frame(1, TYPE.data, header)]));
  });

  it('closes a connection that sends an unknown frame type', async () => {
    await expectOnlyThatConnectionClosed(Buffer.concat([settings(), frame(1, 0x7f)]));
  });

  it('closes a connection whose frame is shorter than a prefix', async () => {
    await expectOnlyThatConnectionClosed(
      Buffer.concat([settings(), Buffer.from([0, 0, 0, 3, 1, 2, 3])]),
    );
  });

  it('closes a connection that opens a stream id above max-streams', async () => {
    await expectOnlyThatConnectionClosed(
      Buffer.concat([settings(), frame(0x7fffffff, TYPE.data, headerBlock([]), Buffer.from('x'))]),
    );
  });

  it('closes a connection that never completes the handshake', async () => {
    const strict = createTcpTransport({ logger: silentLogger, dialTimeout: 200 });
    const quiet = await strict.listen('127.0.0.1:0');
    try {
      const raw = await rawClient(quiet.address);
      const started = Date.now();
      await within(raw.closed, 3_000, 'the listener to drop a silent connection');
      expect(Date.now() - started).toBeGreaterThanOrEqual(150);
      expect(strict.stats().connections).toBe(0);
    } finally {
      await strict.close();
    }
  });

  it('serves a hand-written well-formed client too (the format is what the README says)', async () => {
    const raw = await rawClient(listener.address);
    raw.socket.write(
      Buffer.concat([
        settings([['max-message-size', '1024']]),
        frame(1, TYPE.data, headerBlock([['Content-Type', 'text/plain']]), Buffer.from('hello')),
      ]),
    );
    const until = (what: string, test: (frames: ReturnType<typeof parseFrames>) => boolean) =>
      within(
        (async () => {
          while (!test(parseFrames(raw.received())))
            await new Promise((resolve) => setTimeout(resolve, 5));
          return parseFrames(raw.received());
        })(),
        5_000,
        what,
      );
    const frames = await until('the echo', (parsed) => parsed.some((f) => f.type === TYPE.data));
    expect(frames[0]?.type).toBe(TYPE.settings);
    const data = frames.find((f) => f.type === TYPE.data);
    expect(data?.stream).toBe(1);
    expect(data?.body.toString()).toBe('hello');
    // Closing the stream is answered with the listener's CLOSE for the same stream.
    raw.socket.write(frame(1, TYPE.close));
    const closed = await until('the CLOSE', (parsed) => parsed.some((f) => f.type === TYPE.close));
    expect(closed.find((f) => f.type === TYPE.close)?.stream).toBe(1);
    raw.socket.destroy();
  });
});
