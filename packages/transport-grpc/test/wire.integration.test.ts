// Wire compatibility: this transport against plain @grpc/grpc-js peers built from
// proto/transport.proto, as a Go service on go-micro's gRPC transport would be.
import * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from '@jest/globals';
import { isMicroError, type Message, type Socket, silentLogger } from '@micro/core';
import { rejection, waitFor, within } from '@micro/testing';
import {
  createGrpcTransport,
  encodeMessage,
  type GrpcTransport,
  grpcMessageLimit,
  STREAM_PATH,
} from '../src/index.js';
import { type ProtoMessage, packageDefinition, streamMethod } from './proto.js';

const code = (error: unknown) => (isMicroError(error) ? error.code : error);
const text = (message: Message) => Buffer.from(message.body).toString();

/** The header a go-micro client puts on a request, plus awkward values. */
const HEADER = {
  'Content-Type': 'application/json',
  'Micro-Id': '7',
  'Micro-Service': 'helloworld',
  'Micro-Endpoint': 'Greeter.Hello',
  'Micro-Method': 'Greeter.Hello',
  Timeout: '5000000000',
  'X-Unicode': 'héllo 你好',
  Empty: '',
};
const BODY = Buffer.from([0, 1, 2, 127, 128, 254, 255]);

const transports: GrpcTransport[] = [];
const servers: grpc.Server[] = [];
const clients: grpc.Client[] = [];

function make(options: Parameters<typeof createGrpcTransport>[0] = {}): GrpcTransport {
  const transport = createGrpcTransport({ logger: silentLogger, ...options });
  transports.push(transport);
  return transport;
}

afterAll(async () => {
  for (const client of clients) client.close();
  for (const server of servers) server.forceShutdown();
  for (const transport of transports) await transport.close();
});

/** A plain grpc-js client with nothing of this package, calling the fully qualified path. */
function plainClient(address: string, options: grpc.ChannelOptions = {}) {
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), options);
  clients.push(client);
  const stream = () =>
    client.makeBidiStreamRequest<ProtoMessage, ProtoMessage>(
      '/go.micro.transport.grpc.Transport/Stream',
      streamMethod.requestSerialize,
      streamMethod.responseDeserialize,
    );
  return { client, stream };
}

/** A plain grpc-js server implementing the Transport service from the .proto. */
async function plainServer(
  handler: (call: grpc.ServerDuplexStream<ProtoMessage, ProtoMessage>) => void,
  options: grpc.ServerOptions = {},
): Promise<string> {
  const server = new grpc.Server(options);
  servers.push(server);
  const service = packageDefinition['go.micro.transport.grpc.Transport'] as grpc.ServiceDefinition;
  server.addService(service, { Stream: handler });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return `127.0.0.1:${port}`;
}

function next<T>(stream: NodeJS.EventEmitter, event = 'data'): Promise<T> {
  return within(
    new Promise<T>((resolve, reject) => {
      stream.once(event, resolve);
      // A failed call emits 'error' before 'status'; only data and end waits fail on it.
      if (event === 'data' || event === 'end') stream.once('error', reject);
    }),
    5_000,
    `the ${event} event`,
  );
}

describe('a plain grpc-js client against this listener', () => {
  it('exchanges header maps and bytes exactly, both ways', async () => {
    const listener = await make().listen('127.0.0.1:0');
    const accepted: Socket[] = [];
    listener.accept((socket) => accepted.push(socket));
    const call = plainClient(listener.address).stream();
    call.write({ header: HEADER, body: BODY });
    await waitFor('the stream to be accepted', () => accepted.length === 1);
    const server = accepted[0]!;
    const request = await server.recv();
    expect(request.header).toEqual(HEADER);
    expect([...request.body]).toEqual([...BODY]);
    expect(server.remote).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(server.local).toBe(listener.address);

    const reply = next<ProtoMessage>(call);
    await server.send({ header: { ...HEADER, 'Micro-Id': '8' }, body: Buffer.from('reply') });
    const received = await reply;
    expect(received.header).toEqual({ ...HEADER, 'Micro-Id': '8' });
    expect(received.body.toString()).toBe('reply');

    // The server closing ends the call with status OK, as a go-micro handler returning.
    const status = next<grpc.StatusObject>(call, 'status');
    call.on('data', () => {});
    await server.close();
    expect((await status).code).toBe(grpc.status.OK);
  });

  it('sees the half-close (io.EOF in Go) as the end: queued messages first, then 503', async () => {
    const listener = await make().listen('127.0.0.1:0');
    const accepted: Socket[] = [];
    listener.accept((socket) => accepted.push(socket));
    const call = plainClient(listener.address).stream();
    const status = next<grpc.StatusObject>(call, 'status');
    call.on('data', () => {});
    call.write({ header: { n: '1' }, body: Buffer.from('one') });
    call.write({ header: { n: '2' }, body: Buffer.from('two') });
    call.end();
    await waitFor('the stream to be accepted', () => accepted.length === 1);
    const server = accepted[0]!;
    expect(text(await server.recv())).toBe('one');
    expect(text(await server.recv())).toBe('two');
    expect(code(await rejection(within(server.recv(), 5_000, 'recv after EOF')))).toBe(503);
    expect(code(await rejection(server.send({ header: {}, body: BODY })))).toBe(503);
    // and ends the call, as go-micro's server does when Recv returns io.EOF
    expect((await status).code).toBe(grpc.status.OK);
  });

  it('fails the socket with 503 when the client cancels, as go-micro clients close', async () => {
    const listener = await make().listen('127.0.0.1:0');
    const accepted: Socket[] = [];
    listener.accept((socket) => accepted.push(socket));
    const call = plainClient(listener.address).stream();
    call.on('error', () => {});
    call.write({ header: {}, body: BODY });
    await waitFor('the stream to be accepted', () => accepted.length === 1);
    const server = accepted[0]!;
    await server.recv();
    const pending = server.recv();
    call.cancel();
    expect(code(await rejection(within(pending, 5_000, 'recv after cancel')))).toBe(503);
  });

  it('answers a malformed Message with INVALID_ARGUMENT, fails the socket with 400 and warns', async () => {
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (message: string) => void warnings.push(message) };
    const listener = await make({ logger }).listen('127.0.0.1:0');
    const failures: unknown[] = [];
    listener.accept((socket) => void socket.recv().catch((error) => failures.push(error)));
    const { client } = plainClient(listener.address);
    const call = client.makeBidiStreamRequest<Buffer, Buffer>(
      STREAM_PATH,
      (buffer) => buffer,
      (buffer) => buffer,
    );
    const status = next<grpc.StatusObject>(call, 'status');
    call.on('error', () => {});
    call.write(Buffer.from([0x0a, 0x7f, 0x01]));
    expect((await status).code).toBe(grpc.status.INVALID_ARGUMENT);
    await waitFor('the socket to fail', () => failures.length === 1);
    expect(code(failures[0])).toBe(400);
    expect(warnings).toEqual(['malformed message; ending the stream']);
  });

  it('answers another method with UNIMPLEMENTED', async () => {
    const listener = await make().listen('127.0.0.1:0');
    const { client } = plainClient(listener.address);
    const error = await new Promise<grpc.ServiceError>((resolve) =>
      client.makeUnaryRequest(
        '/go.micro.transport.grpc.Transport/Other',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.alloc(0),
        (failure) => resolve(failure!),
      ),
    );
    expect(error.code).toBe(grpc.status.UNIMPLEMENTED);
  });

  it('refuses a message over the limit from its length prefix, before buffering it', async () => {
    const listener = await make().listen('127.0.0.1:0');
    const failures: unknown[] = [];
    listener.accept((socket) => void socket.recv().catch((error) => failures.push(error)));
    // A raw HTTP/2 stream announcing a 1 GiB message and sending only 16 KiB of it:
    // a receiver that buffered the message would wait for the rest.
    const session = http2.connect(`http://${listener.address}`);
    try {
      const stream = session.request({
        ':method': 'POST',
        ':path': STREAM_PATH,
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(1024 * 1024 * 1024, 1);
      stream.write(Buffer.concat([prefix, Buffer.alloc(16 * 1024)]));
      const grpcStatus = await within(
        new Promise<string>((resolve) => {
          stream.on('response', (headers) => {
            if (headers['grpc-status'] !== undefined) resolve(String(headers['grpc-status']));
          });
          stream.on('trailers', (trailers) => resolve(String(trailers['grpc-status'])));
          stream.on('data', () => {});
        }),
        5_000,
        'the status for an oversized message',
      );
      expect(Number(grpcStatus)).toBe(grpc.status.RESOURCE_EXHAUSTED);
      await waitFor('the socket to fail', () => failures.length === 1);
      expect(code(failures[0])).toBe(503);
    } finally {
      session.destroy();
    }
  });

  it('takes a body of exactly maxMessageSize with a full header, and refuses one byte more', async () => {
    const maxMessageSize = 64 * 1024;
    const listener = await make({ maxMessageSize, maxHeaderSize: 1024 }).listen('127.0.0.1:0');
    const received: Message[] = [];
    const failures: unknown[] = [];
    listener.accept(
      (socket) =>
        void socket.recv().then(
          (m) => received.push(m),
          (e) => failures.push(e),
        ),
    );
    const limit = grpcMessageLimit(maxMessageSize, 1024);
    const plain = plainClient(listener.address, { 'grpc.max_send_message_length': -1 });
    const header = { 'X-Pad': 'p'.repeat(1000) };
    const fits = plain.stream();
    fits.on('error', () => {});
    fits.write({ header, body: Buffer.alloc(maxMessageSize) });
    await waitFor('the message to arrive', () => received.length === 1);
    expect(received[0]!.body.byteLength).toBe(maxMessageSize);

    // A body over maxMessageSize inside the gRPC limit (small header) is refused by the socket.
    const over = plain.stream();
    const overStatus = next<grpc.StatusObject>(over, 'status');
    over.on('error', () => {});
    over.write({ header: {}, body: Buffer.alloc(maxMessageSize + 1) });
    expect((await overStatus).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    await waitFor('the socket to fail', () => failures.length === 1);
    expect(code(failures[0])).toBe(413);
    expect(encodeMessage({}, Buffer.alloc(maxMessageSize + 1)).length).toBeLessThan(limit);
  });
});

describe('this transport against a plain grpc-js server', () => {
  it('sends header maps and bytes exactly, in the field order Go writes', async () => {
    const raw: Buffer[] = [];
    const calls: grpc.ServerDuplexStream<ProtoMessage, ProtoMessage>[] = [];
    const address = await plainServer((call) => {
      calls.push(call);
      call.on('data', (message: ProtoMessage) => {
        call.write({ header: { ...message.header, Echo: 'yes' }, body: message.body });
      });
      call.on('end', () => call.end());
    });
    // A second server that keeps the raw bytes, to compare them with Go's encoding.
    const rawServer = new grpc.Server();
    servers.push(rawServer);
    rawServer.addService(
      {
        Stream: {
          ...streamMethod,
          requestDeserialize: (buffer: Buffer) => buffer,
          responseSerialize: (buffer: Buffer) => buffer,
        },
      } as grpc.ServiceDefinition,
      {
        Stream: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
          call.on('data', (buffer: Buffer) => {
            raw.push(buffer);
            call.write(buffer);
          });
        },
      },
    );
    const rawPort = await new Promise<number>((resolve, reject) =>
      rawServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    );

    const transport = make();
    const socket = await transport.dial(address);
    expect(socket.remote).toBe(address);
    await socket.send({ header: HEADER, body: BODY });
    const reply = await within(socket.recv(), 5_000, 'the echo');
    expect(reply.header).toEqual({ ...HEADER, Echo: 'yes' });
    expect([...reply.body]).toEqual([...BODY]);

    // Closing half-closes the call: the server sees the end of its input (io.EOF in Go).
    const ended = next<void>(calls[0]!, 'end');
    await socket.close();
    await ended;

    const rawSocket = await transport.dial(`127.0.0.1:${rawPort}`);
    await rawSocket.send({ header: { a: 'b' }, body: Buffer.from('x') });
    await within(rawSocket.recv(), 5_000, 'the raw echo');
    expect(raw[0]!.toString('hex')).toBe('0a060a0161120162120178');
    await rawSocket.close();
  });

  it('delivers what the server sent before its status, then rejects recv with 503', async () => {
    const address = await plainServer((call) => {
      call.once('data', () => {
        call.write({ header: { n: '1' }, body: Buffer.from('one') });
        call.write({ header: { n: '2' }, body: Buffer.from('two') });
        call.end();
      });
    });
    const socket = await make().dial(address);
    await socket.send({ header: {}, body: BODY });
    expect(text(await socket.recv())).toBe('one');
    expect(text(await socket.recv())).toBe('two');
    expect(code(await rejection(within(socket.recv(), 5_000, 'recv after the status')))).toBe(503);
    expect(code(await rejection(socket.send({ header: {}, body: BODY })))).toBe(503);
  });

  it('maps the status a server ends with: UNAVAILABLE 503, DEADLINE_EXCEEDED 408', async () => {
    for (const [status, expected] of [
      [grpc.status.UNAVAILABLE, 503],
      [grpc.status.DEADLINE_EXCEEDED, 408],
      [grpc.status.PERMISSION_DENIED, 403],
    ] as const) {
      const address = await plainServer((call) => {
        call.once('data', () => call.emit('error', { code: status, details: 'because' }));
      });
      const socket = await make().dial(address);
      await socket.send({ header: {}, body: BODY });
      expect(code(await rejection(within(socket.recv(), 5_000, 'recv')))).toBe(expected);
    }
  });

  it('fails recv with 413 when the server sends more than the limit', async () => {
    const address = await plainServer(
      (call) => {
        call.once('data', () => call.write({ header: {}, body: Buffer.alloc(128 * 1024) }));
      },
      { 'grpc.max_send_message_length': -1 },
    );
    const socket = await make({ maxMessageSize: 64 * 1024 }).dial(address);
    await socket.send({ header: {}, body: BODY });
    expect(code(await rejection(within(socket.recv(), 5_000, 'an oversized reply')))).toBe(413);
  });

  it('fails with 501 against a gRPC server that does not serve the Transport service', async () => {
    const server = new grpc.Server();
    servers.push(server);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    );
    const socket = await make().dial(`127.0.0.1:${port}`);
    await socket.send({ header: {}, body: BODY }).catch(() => {});
    expect(code(await rejection(within(socket.recv(), 5_000, 'recv')))).toBe(501);
  });
});
