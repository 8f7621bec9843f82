import { describe, expect, it } from '@jest/globals';
import { formatAddress, parseAddress } from '../src/index.js';

describe('parseAddress', () => {
  it.each([
    ['127.0.0.1:8080', { host: '127.0.0.1', port: 8080 }],
    ['localhost:0', { host: 'localhost', port: 0 }],
    [':9090', { host: '', port: 9090 }],
    ['[::1]:50051', { host: '::1', port: 50051 }],
    ['[::]:1', { host: '::', port: 1 }],
    ['[fe80::1%eth0]:65535', { host: 'fe80::1%eth0', port: 65535 }],
  ])('parses %s', (address, expected) => {
    expect(parseAddress(address)).toEqual(expected);
  });

  it.each([
    '',
    'localhost',
    '127.0.0.1',
    'host:',
    'host:http',
    'host:65536',
    'host:-1',
    'host:123456',
    '::1:80',
    'h:1:2',
    '[::1]',
    '[::1]80',
    '[::1',
  ])('refuses %j', (address) => {
    expect(parseAddress(address)).toBeUndefined();
  });

  it('refuses a value that is not a string instead of throwing a TypeError', () => {
    expect(parseAddress(8080 as never)).toBeUndefined();
    expect(parseAddress(undefined as never)).toBeUndefined();
  });
});

describe('formatAddress', () => {
  it('brackets IPv6 hosts, and round-trips with parseAddress', () => {
    expect(formatAddress('::1', 80)).toBe('[::1]:80');
    expect(formatAddress('10.0.0.1', 80)).toBe('10.0.0.1:80');
    expect(formatAddress('', 8080)).toBe(':8080');
    for (const address of ['[::1]:80', '10.0.0.1:80', ':8080', 'svc.local:1']) {
      const { host, port } = parseAddress(address)!;
      expect(formatAddress(host, port)).toBe(address);
    }
  });
});
