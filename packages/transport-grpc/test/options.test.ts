import { credentials, logVerbosity, ServerCredentials, setLogVerbosity } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from '@jest/globals';
import { DEFAULT_MAX_MESSAGE_SIZE, isMicroError, MicroError, silentLogger } from '@micro/core';
import { rejection } from '@micro/testing';
import {
  createGrpcTransport,
  DEFAULT_KEEPALIVE_TIME,
  DEFAULT_MAX_HEADER_SIZE,
  defaultChannelOptions,
  defaultServerOptions,
  type GrpcTransport,
  type GrpcTransportOptions,
  grpcMessageLimit,
} from '../src/index.js';

const code = (error: unknown) => (isMicroError(error) ? error.code : error);

function thrown(options: GrpcTransportOptions): unknown {
  try {
    createGrpcTransport({ logger: silentLogger, ...options });
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('options', () => {
  const transports: GrpcTransport[] = [];
  afterEach(async () => {
    for (const transport of transports.splice(0)) await transport.close();
  });
  const make = (options: GrpcTransportOptions = {}) => {
    const transport = createGrpcTransport({ logger: silentLogger, ...options });
    transports.push(transport);
    return transport;
  };

  it("is named as go-micro's gRPC transport", () => {
    expect(make().name).toBe('grpc');
  });

  it('sets the gRPC message limit above the body limit by the header allowance', () => {
    const limit = grpcMessageLimit(DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_HEADER_SIZE);
    expect(limit).toBeGreaterThan(DEFAULT_MAX_MESSAGE_SIZE + DEFAULT_MAX_HEADER_SIZE);
    expect(limit).toBeLessThan(DEFAULT_MAX_MESSAGE_SIZE + DEFAULT_MAX_HEADER_SIZE + 64);
    const channel = defaultChannelOptions(limit);
    expect(channel['grpc.max_send_message_length']).toBe(limit);
    expect(channel['grpc.max_receive_message_length']).toBe(limit);
    expect(defaultServerOptions(limit)['grpc.max_receive_message_length']).toBe(limit);
  });

  it('pings no more often than go-micro (grpc-go) servers allow, and never without streams', () => {
    const channel = defaultChannelOptions(1);
    expect(channel['grpc.keepalive_time_ms']).toBe(DEFAULT_KEEPALIVE_TIME);
    expect(DEFAULT_KEEPALIVE_TIME).toBeGreaterThanOrEqual(5 * 60_000);
    expect(channel['grpc.keepalive_permit_without_calls']).toBe(0);
    expect(defaultChannelOptions(1, { time: 1000, timeout: 500 })).toMatchObject({
      'grpc.keepalive_time_ms': 1000,
      'grpc.keepalive_timeout_ms': 500,
    });
  });

  it('turns off retries, whose buffering would report writes done before they are', () => {
    expect(defaultChannelOptions(1)).toMatchObject({
      'grpc.enable_retries': 0,
      'grpc.per_rpc_retry_buffer_size': 0,
      'grpc.use_local_subchannel_pool': 1,
    });
  });

  it.each([
    ['maxMessageSize', 0],
    ['maxMessageSize', -1],
    ['maxMessageSize', 1.5],
    ['maxHeaderSize', 0],
    ['dialTimeout', 0],
    ['idleTimeout', -5],
    ['shutdownTimeout', Number.NaN],
  ] as const)('refuses %s = %d with 400', (name, value) => {
    expect(code(thrown({ [name]: value }))).toBe(400);
  });

  it('accepts 0 for idleTimeout and shutdownTimeout', () => {
    expect(thrown({ idleTimeout: 0, shutdownTimeout: 0 })).toBeUndefined();
  });

  it('refuses half a TLS key pair, and mutual TLS without a CA', () => {
    expect(code(thrown({ tls: { cert: 'x' } }))).toBe(400);
    expect(code(thrown({ tls: { key: 'x' } }))).toBe(400);
    expect(code(thrown({ tls: { requireClientCertificate: true } }))).toBe(400);
  });

  it('refuses to listen with TLS but no certificate, with 400', async () => {
    const transport = make({ tls: {} });
    expect(code(await rejection(transport.listen('127.0.0.1:0')))).toBe(400);
  });

  it('uses credential objects as they are', async () => {
    const transport = make({
      credentials: {
        channel: credentials.createInsecure(),
        server: ServerCredentials.createInsecure(),
      },
      tls: { ca: 'ignored for both sides' },
    });
    const listener = await transport.listen('127.0.0.1:0');
    listener.accept((socket) => void socket.recv().then((m) => socket.send(m)));
    const socket = await transport.dial(listener.address);
    await socket.send({ header: {}, body: Buffer.from('hi') });
    expect(Buffer.from((await socket.recv()).body).toString()).toBe('hi');
    await socket.close();
  });

  it('refuses malformed addresses with 400', async () => {
    const transport = make();
    for (const address of ['nonsense', '127.0.0.1:0', '[::1', 'host:99999']) {
      expect(code(await rejection(transport.dial(address)))).toBe(400);
    }
    expect(code(await rejection(transport.listen('no-port')))).toBe(400);
  });

  it('fails dials and listens after close with 503', async () => {
    const transport = make();
    await transport.close();
    expect(code(await rejection(transport.dial('127.0.0.1:1')))).toBe(503);
    expect(code(await rejection(transport.listen('127.0.0.1:0')))).toBe(503);
    await transport.close();
  });

  it('fails a dial with an aborted signal at once', async () => {
    const transport = make();
    const controller = new AbortController();
    controller.abort();
    expect(
      code(await rejection(transport.dial('127.0.0.1:1', { signal: controller.signal }))),
    ).toBe(499);
  });

  it('fails a dial with no time left with 503 at once, even on a ready channel', async () => {
    const transport = make();
    const listener = await transport.listen('127.0.0.1:0');
    listener.accept(() => {});
    await (await transport.dial(listener.address)).close();
    for (const timeout of [0, -5]) {
      expect(code(await rejection(transport.dial(listener.address, { timeout })))).toBe(503);
    }
  });

  it('fails an aborted dial with the MicroError reason when there is one', async () => {
    const transport = make();
    const controller = new AbortController();
    const reason = new MicroError('caller', 'deadline', 408);
    controller.abort(reason);
    expect(await rejection(transport.dial('127.0.0.1:1', { signal: controller.signal }))).toBe(
      reason,
    );
  });

  it('reports an address in use with 503', async () => {
    const transport = make();
    const listener = await transport.listen('127.0.0.1:0');
    // grpc-js also logs the failed bind on its own (process-wide) logger; keep it quiet here.
    setLogVerbosity(logVerbosity.NONE);
    try {
      expect(code(await rejection(transport.listen(listener.address)))).toBe(503);
    } finally {
      setLogVerbosity(logVerbosity.ERROR);
    }
  });
});
