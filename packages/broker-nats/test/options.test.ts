import { describe, expect, it } from '@jest/globals';
import { isMicroError } from '@micro/core';
import { normalizeAddresses, resolveOptions } from '../src/options.js';

const code = (fn: () => unknown) => {
  try {
    fn();
    return 'ok';
  } catch (error) {
    return isMicroError(error) ? error.code : 'not a MicroError';
  }
};

describe('options', () => {
  it("defaults to go-micro's nats.DefaultURL and nats.go's timings, reconnecting forever", () => {
    expect(resolveOptions()).toEqual({
      addresses: ['nats://127.0.0.1:4222'],
      tls: undefined,
      name: undefined,
      user: undefined,
      pass: undefined,
      token: undefined,
      timeout: 2_000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 2_000,
      reconnectJitter: 100,
      reconnectJitterTLS: 1_000,
      pingInterval: 120_000,
      maxPingOut: 2,
      reconnectBufferSize: 8 * 1024 * 1024,
      publishTimeout: 10_000,
      drainTimeout: 30_000,
      maxPendingMessages: 512 * 1024,
      maxPendingBytes: 64 * 1024 * 1024,
    });
  });

  it('normalises addresses as go-micro setAddrs does', () => {
    expect(normalizeAddresses(['', ' 10.0.0.1:4222 ', 'nats://n2:4222'])).toEqual({
      addresses: ['nats://10.0.0.1:4222', 'nats://n2:4222'],
      tls: false,
    });
    expect(normalizeAddresses([''])).toEqual({ addresses: ['nats://127.0.0.1:4222'], tls: false });
  });

  it('turns TLS on for a tls:// address, or with tls: true or settings', () => {
    expect(resolveOptions({ addresses: ['tls://n1:4222'] }).tls).toEqual({});
    expect(resolveOptions({ tls: true }).tls).toEqual({});
    expect(resolveOptions({ tls: { caFile: '/ca.pem' } }).tls).toEqual({ caFile: '/ca.pem' });
    expect(resolveOptions({ addresses: ['tls://n1:4222'], tls: false }).tls).toBeUndefined();
    expect(resolveOptions({}).tls).toBeUndefined();
  });

  it('refuses addresses it cannot connect to and invalid numbers with a 400', () => {
    expect(code(() => normalizeAddresses(['ws://n1:8080']))).toBe(400);
    expect(code(() => normalizeAddresses(['http://n1:4222']))).toBe(400);
    expect(code(() => resolveOptions({ timeout: 0 }))).toBe(400);
    expect(code(() => resolveOptions({ reconnectBufferSize: -1 }))).toBe(400);
    expect(code(() => resolveOptions({ publishTimeout: Number.NaN }))).toBe(400);
    expect(code(() => resolveOptions({ maxReconnectAttempts: 1.5 }))).toBe(400);
    expect(code(() => resolveOptions({ maxReconnectAttempts: -2 }))).toBe(400);
    expect(code(() => resolveOptions({ reconnectBufferSize: 0, maxReconnectAttempts: 10 }))).toBe(
      'ok',
    );
  });
});
