import { describe, expect, it } from '@jest/globals';
import { isMicroError } from '@micro/core';
import { networkError } from '../src/errors.js';
import { createTcpTransport, DEFAULT_MAX_HEADER_SIZE, TcpTransport } from '../src/index.js';

describe('network errors', () => {
  const error = (code: string, message = code) => Object.assign(new Error(message), { code });

  it('maps connection failures to 503s that name the address and keep the cause', () => {
    const refused = error('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1');
    const mapped = networkError('127.0.0.1:1', refused, true);
    expect(isMicroError(mapped)).toBe(true);
    expect(mapped).toMatchObject({
      code: 503,
      id: 'go.micro.transport',
      detail: 'connection refused: 127.0.0.1:1',
    });
    expect(mapped.cause).toBe(refused);
    expect(networkError('svc:80', error('ENOTFOUND'), true).detail).toBe(
      'cannot resolve the host of svc:80 (ENOTFOUND)',
    );
    expect(networkError('svc:80', error('EAI_AGAIN'), true).detail).toContain('cannot resolve');
    expect(networkError('10.0.0.9:80', error('EHOSTUNREACH'), true).detail).toBe(
      '10.0.0.9:80 is unreachable (EHOSTUNREACH)',
    );
  });

  it('names TLS failures, with OpenSSL noise trimmed', () => {
    const tls = error(
      'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
      '80CC:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:../ssl.c:1601:',
    );
    expect(networkError('h:1', tls, true).detail).toBe(
      'TLS with h:1 failed: tlsv13 alert certificate required',
    );
    expect(
      networkError('h:1', error('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify'), true)
        .detail,
    ).toBe('TLS with h:1 failed: unable to verify');
  });

  it('tells a lost connection from a failed connect', () => {
    expect(networkError('h:1', error('ECONNRESET', 'read ECONNRESET'), false).detail).toBe(
      'connection to h:1 lost: ECONNRESET',
    );
    expect(networkError('h:1', new Error('boom'), true).detail).toBe('cannot connect to h:1: boom');
  });
});

describe('createTcpTransport', () => {
  it('creates a transport named tcp that holds nothing yet', async () => {
    const transport = createTcpTransport();
    expect(transport).toBeInstanceOf(TcpTransport);
    expect(transport.name).toBe('tcp');
    expect(transport.stats()).toEqual({
      connections: 0,
      sockets: 0,
      queuedBytes: 0,
      bufferedBytes: 0,
    });
    expect(DEFAULT_MAX_HEADER_SIZE).toBe(65536);
    await transport.close();
    await transport.close();
  });

  it('refuses numeric options that are not positive integers with 400', () => {
    for (const options of [
      { maxMessageSize: 0 },
      { maxHeaderSize: -5 },
      { streamWindow: 1.5 },
      { maxStreams: Number.NaN },
      { writeHighWaterMark: 0 },
      { connectionBufferLimit: -1 },
      { dialTimeout: 0 },
      { keepAliveDelay: 0 },
      { idleTimeout: -1 },
      { streamWindow: 2 ** 31 },
    ]) {
      let thrown: unknown;
      try {
        createTcpTransport(options);
      } catch (error) {
        thrown = error;
      }
      expect(isMicroError(thrown) && thrown.code).toBe(400);
    }
  });
});
