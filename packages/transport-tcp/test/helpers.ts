import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import type { Message, Socket, Transport } from '@micro/core';
import type { TcpTlsOptions } from '../src/index.js';

const fixture = (name: string) => readFileSync(join(__dirname, 'fixtures', name));

/** Test-only PEMs from test/fixtures (see generate.sh there). */
export const pem = {
  ca: fixture('ca.pem'),
  serverKey: fixture('server.key'),
  serverCert: fixture('server.pem'),
  clientKey: fixture('client.key'),
  clientCert: fixture('client.pem'),
  otherCa: fixture('other-ca.pem'),
  otherServerKey: fixture('other-server.key'),
  otherServerCert: fixture('other-server.pem'),
};

/** TLS both ways: the server proves itself with a certificate from the test CA. */
export const tlsOptions: TcpTlsOptions = {
  server: { key: pem.serverKey, cert: pem.serverCert },
  client: { ca: pem.ca },
};

/** Mutual TLS: the server also requires a client certificate from the test CA. */
export const mutualTlsOptions: TcpTlsOptions = {
  server: {
    key: pem.serverKey,
    cert: pem.serverCert,
    ca: pem.ca,
    requestCert: true,
    rejectUnauthorized: true,
  },
  client: { ca: pem.ca, key: pem.clientKey, cert: pem.clientCert },
};

export const text = (message: Message) => Buffer.from(message.body).toString('utf8');
export const msg = (body: string, header: Record<string, string> = {}): Message => ({
  header,
  body: Buffer.from(body),
});

/** Answers every message with the same message until the client closes. */
export function echo(socket: Socket): void {
  void (async () => {
    while (true) {
      let message: Message;
      try {
        message = await socket.recv();
      } catch {
        await socket.close();
        return;
      }
      await socket.send(message).catch(() => undefined);
    }
  })();
}

/** One request and its answer on a new Socket, as an RPC call does. */
export async function call(transport: Transport, address: string, body: string): Promise<string> {
  const socket = await transport.dial(address);
  try {
    await socket.send(msg(body));
    return text(await socket.recv());
  } finally {
    await socket.close();
  }
}

/** A promise that rejects after `ms` unless `promise` settles first; true if it settled. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([
    promise.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]);
  clearTimeout(timer);
  return result;
}

/**
 * Checks `condition` every few milliseconds for `ms`: false as soon as it fails.
 * For asserting that something does not happen (a bounded wait, not a sleep).
 */
export async function staysTrue(condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!condition()) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return condition();
}

// ---------------------------------------------------------------------------------------------
// The wire format, written out by hand (independent of src/frame.ts) for raw peers.

export const TYPE = { settings: 0, data: 1, close: 2, reset: 3, window: 4 } as const;

/** Encodes a header block: count:u16, then keyLength:u16 valueLength:u32 key value per entry. */
export function headerBlock(entries: [string | Buffer, string | Buffer][]): Buffer {
  const parts: Buffer[] = [Buffer.from([entries.length >> 8, entries.length & 0xff])];
  for (const [key, value] of entries) {
    const k = Buffer.isBuffer(key) ? key : Buffer.from(key);
    const v = Buffer.isBuffer(value) ? value : Buffer.from(value);
    const lengths = Buffer.alloc(6);
    lengths.writeUInt16BE(k.length, 0);
    lengths.writeUInt32BE(v.length, 2);
    parts.push(lengths, k, v);
  }
  return Buffer.concat(parts);
}

/** Encodes one frame: length:u32 stream:u32 type:u8 flags:u8 headerLength:u32 header body. */
export function frame(
  stream: number,
  type: number,
  header: Buffer = Buffer.alloc(0),
  body: Buffer = Buffer.alloc(0),
  flags = 0,
): Buffer {
  const prefix = Buffer.alloc(14);
  prefix.writeUInt32BE(10 + header.length + body.length, 0);
  prefix.writeUInt32BE(stream, 4);
  prefix[8] = type;
  prefix[9] = flags;
  prefix.writeUInt32BE(header.length, 10);
  return Buffer.concat([prefix, header, body]);
}

/** A SETTINGS frame with version 1 and the given settings. */
export function settings(extra: [string, string][] = []): Buffer {
  return frame(0, TYPE.settings, headerBlock([['version', '1'], ...extra]));
}

/** The frames in a byte stream: [stream, type, flags, header block, body]. */
export function parseFrames(
  bytes: Buffer,
): { stream: number; type: number; flags: number; body: Buffer }[] {
  const frames: { stream: number; type: number; flags: number; body: Buffer }[] = [];
  let at = 0;
  while (bytes.length - at >= 14) {
    const length = bytes.readUInt32BE(at);
    if (bytes.length - at - 4 < length) break;
    const headerLength = bytes.readUInt32BE(at + 10);
    frames.push({
      stream: bytes.readUInt32BE(at + 4),
      type: bytes[at + 8]!,
      flags: bytes[at + 9]!,
      body: bytes.subarray(at + 14 + headerLength, at + 4 + length),
    });
    at += 4 + length;
  }
  return frames;
}

/** A plain TCP client for speaking (or breaking) the protocol by hand. */
export async function rawClient(address: string): Promise<{
  socket: net.Socket;
  received: () => Buffer;
  closed: Promise<void>;
}> {
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  const socket = net.connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, received: () => Buffer.concat(chunks), closed };
}

/**
 * A TCP proxy in front of a listener that can cut every connection with a reset,
 * as a crashed peer or a broken network does.
 */
export async function resettingProxy(target: string): Promise<{
  address: string;
  connections: () => number;
  reset: () => void;
  close: () => Promise<void>;
}> {
  const port = Number(target.slice(target.lastIndexOf(':') + 1));
  const pairs = new Set<[net.Socket, net.Socket]>();
  let connections = 0;
  const server = net.createServer((downstream) => {
    connections++;
    const upstream = net.connect(port, '127.0.0.1');
    const pair: [net.Socket, net.Socket] = [downstream, upstream];
    pairs.add(pair);
    downstream.pipe(upstream).pipe(downstream);
    const drop = () => {
      pairs.delete(pair);
      downstream.destroy();
      upstream.destroy();
    };
    downstream.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return {
    address,
    connections: () => connections,
    reset: () => {
      for (const [downstream, upstream] of [...pairs]) {
        downstream.resetAndDestroy();
        upstream.resetAndDestroy();
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const [downstream, upstream] of pairs) {
          downstream.destroy();
          upstream.destroy();
        }
        server.close(() => resolve());
      }),
  };
}
