import { describe, expect, it } from '@jest/globals';
import { isMicroError, silentLogger } from '@micro/core';
import { parseAddress, resolveOptions } from '../src/options.js';

function code(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (error) {
    return isMicroError(error) ? error.code : -1;
  }
  return undefined;
}

describe('parseAddress', () => {
  it('appends port 2379 when it is missing, as go-micro does', () => {
    expect(parseAddress('etcd.internal')).toEqual({ host: 'etcd.internal:2379', secure: false });
    expect(parseAddress('10.0.0.2')).toEqual({ host: '10.0.0.2:2379', secure: false });
    expect(parseAddress('[::1]')).toEqual({ host: '[::1]:2379', secure: false });
    expect(parseAddress('fd00::5')).toEqual({ host: '[fd00::5]:2379', secure: false });
  });

  it('keeps a given port', () => {
    expect(parseAddress('etcd:12379')).toEqual({ host: 'etcd:12379', secure: false });
    expect(parseAddress('[fd00::5]:23790')).toEqual({ host: '[fd00::5]:23790', secure: false });
    expect(parseAddress(' 127.0.0.1:2379 ')).toEqual({ host: '127.0.0.1:2379', secure: false });
  });

  it('accepts http:// and https:// (which asks for TLS)', () => {
    expect(parseAddress('http://etcd:2379')).toEqual({ host: 'etcd:2379', secure: false });
    expect(parseAddress('https://etcd/')).toEqual({ host: 'etcd:2379', secure: true });
  });

  it('rejects malformed addresses with a 400', () => {
    for (const bad of [
      '',
      ':2379',
      'etcd:port',
      'etcd:99999',
      'etcd:0',
      '[::1',
      '[::1]x',
      'a b',
      'etcd/x',
      'unix://etcd.sock',
    ]) {
      expect([bad, code(() => parseAddress(bad))]).toEqual([bad, 400]);
    }
  });
});

describe('resolveOptions', () => {
  it("defaults to go-micro's 127.0.0.1:2379 and 5 s", () => {
    const resolved = resolveOptions({ logger: silentLogger }, {});
    expect(resolved.hosts).toEqual(['127.0.0.1:2379']);
    expect(resolved.timeout).toBe(5_000);
    expect(resolved.auth).toBeUndefined();
    expect(resolved.tls).toBeUndefined();
    expect(resolved.logger).toBe(silentLogger);
  });

  it('creates a console logger when none is given', () => {
    const { logger } = resolveOptions({}, {});
    expect(typeof logger.warn).toBe('function');
  });

  it('takes addresses from MICRO_REGISTRY_ADDRESS when none are given', () => {
    expect(resolveOptions({}, { MICRO_REGISTRY_ADDRESS: 'a,b:1, ,c' }).hosts).toEqual([
      'a:2379',
      'b:1',
      'c:2379',
    ]);
    expect(resolveOptions({ addresses: ['x'] }, { MICRO_REGISTRY_ADDRESS: 'a' }).hosts).toEqual([
      'x:2379',
    ]);
  });

  it('skips empty addresses and de-duplicates, keeping the default when none is left', () => {
    expect(resolveOptions({ addresses: ['', ' '] }, {}).hosts).toEqual(['127.0.0.1:2379']);
    expect(resolveOptions({ addresses: ['a', 'a:2379'] }, {}).hosts).toEqual(['a:2379']);
  });

  it('uses ETCD_USERNAME / ETCD_PASSWORD only when both are set, options first', () => {
    expect(resolveOptions({}, { ETCD_USERNAME: 'u', ETCD_PASSWORD: 'p' }).auth).toEqual({
      username: 'u',
      password: 'p',
    });
    expect(resolveOptions({}, { ETCD_USERNAME: 'u' }).auth).toBeUndefined();
    expect(resolveOptions({}, { ETCD_USERNAME: 'u', ETCD_PASSWORD: '' }).auth).toBeUndefined();
    expect(
      resolveOptions(
        { username: 'me', password: 'secret' },
        { ETCD_USERNAME: 'u', ETCD_PASSWORD: 'p' },
      ).auth,
    ).toEqual({ username: 'me', password: 'secret' });
    expect(resolveOptions({ username: 'me' }, { ETCD_PASSWORD: 'p' }).auth).toEqual({
      username: 'me',
      password: 'p',
    });
  });

  it('turns TLS on for tls: true, TLS material, or an https:// address', () => {
    expect(resolveOptions({ tls: true }, {}).tls).toEqual({});
    expect(resolveOptions({ addresses: ['https://etcd'] }, {}).tls).toEqual({});
    expect(resolveOptions({ addresses: ['https://etcd'], tls: false }, {}).tls).toBeUndefined();
    expect(resolveOptions({ tls: { ca: 'CA', cert: Buffer.from('C'), key: 'K' } }, {}).tls).toEqual(
      {
        ca: Buffer.from('CA'),
        cert: Buffer.from('C'),
        key: Buffer.from('K'),
      },
    );
  });

  it('rejects a certificate without its key, and a bad timeout, with a 400', () => {
    expect(code(() => resolveOptions({ tls: { cert: 'C' } }, {}))).toBe(400);
    expect(code(() => resolveOptions({ tls: { key: 'K' } }, {}))).toBe(400);
    expect(code(() => resolveOptions({ tls: { ca: 5 as unknown as string } }, {}))).toBe(400);
    expect(code(() => resolveOptions({ timeout: 0 }, {}))).toBe(400);
    expect(code(() => resolveOptions({ timeout: Number.NaN }, {}))).toBe(400);
    expect(code(() => resolveOptions({ addresses: ['etcd:x'] }, {}))).toBe(400);
  });
});
