import { describe, expect, it } from '@jest/globals';
import { formatAddress, parseAddress } from '@micro/core';

describe('addresses', () => {
  it.each([
    ['127.0.0.1:8080', { host: '127.0.0.1', port: 8080 }],
    ['localhost:0', { host: 'localhost', port: 0 }],
    [':9090', { host: '', port: 9090 }],
    ['[::1]:50051', { host: '::1', port: 50051 }],
    ['[::]:1', { host: '::', port: 1 }],
  ])('parses %s', (address, expected) => {
    expect(parseAddress(address)).toEqual(expected);
  });

  it.each(['127.0.0.1', '127.0.0.1:', 'host:port', 'host:65536', '::1:80', '[::1]80', '[::1', ''])(
    'refuses %j',
    (address) => {
      expect(parseAddress(address)).toBeUndefined();
    },
  );

  it('brackets IPv6 hosts', () => {
    expect(formatAddress('::1', 80)).toBe('[::1]:80');
    expect(formatAddress('10.0.0.1', 80)).toBe('10.0.0.1:80');
  });
});
