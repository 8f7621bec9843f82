import { describe, expect, it } from '@jest/globals';
import { isMicroError, silentLogger } from '@micro/core';
import { parseAddress, resolveOptions } from '../src/options.js';

function code(run: () => unknown): number | undefined {
  try {
    run();
  } catch (error) {
    return isMicroError(error) ? error.code : -1;
  }
  return undefined;
}

describe('ConsulRegistryOptions', () => {
  it('defaults as go-micro: 127.0.0.1:8500, stale reads, 5 s timeout, no token', () => {
    const options = resolveOptions({ logger: silentLogger }, {});
    expect(options.endpoints).toEqual([{ host: '127.0.0.1', port: 8500, secure: false }]);
    expect(options.allowStale).toBe(true);
    expect(options.timeout).toBe(5_000);
    expect(options.watchWait).toBe(60_000);
    expect(options.token).toBeUndefined();
    expect(options.tcpCheck).toBeUndefined();
    expect(options.httpCheck).toBeUndefined();
  });

  it("reads CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN as Consul's Go client does", () => {
    const options = resolveOptions(
      {},
      { CONSUL_HTTP_ADDR: 'https://consul.internal:8501', CONSUL_HTTP_TOKEN: 'secret' },
    );
    expect(options.endpoints).toEqual([{ host: 'consul.internal', port: 8501, secure: true }]);
    expect(options.token).toBe('secret');
  });

  it('prefers explicit options over the environment, and address over addresses', () => {
    const env = { CONSUL_HTTP_ADDR: 'env:1', CONSUL_HTTP_TOKEN: 'env' };
    const options = resolveOptions(
      { address: 'a:1', addresses: ['b:2'], token: 'mine', allowStale: false },
      env,
    );
    expect(options.endpoints.map((e) => `${e.host}:${e.port}`)).toEqual(['a:1']);
    expect(options.token).toBe('mine');
    expect(options.allowStale).toBe(false);
    expect(resolveOptions({ addresses: ['b:2', 'c:3,d:4'] }, env).endpoints).toHaveLength(3);
  });

  it('turns on HTTPS with secure or tls', () => {
    expect(resolveOptions({ address: 'x:8501', secure: true }, {}).endpoints[0]!.secure).toBe(true);
    expect(resolveOptions({ address: 'x:8501', tls: { ca: 'pem' } }, {}).endpoints[0]!.secure).toBe(
      true,
    );
    expect(
      resolveOptions({ address: 'http://x:8500', secure: true }, {}).endpoints[0]!.secure,
    ).toBe(false);
  });

  it('parses addresses the way go-micro does, port 8500 when missing', () => {
    expect(parseAddress('consul', false)).toEqual({ host: 'consul', port: 8500, secure: false });
    expect(parseAddress('[::1]:8600', false)).toEqual({ host: '::1', port: 8600, secure: false });
    expect(parseAddress('[::1]', false)).toEqual({ host: '::1', port: 8500, secure: false });
    expect(parseAddress('https://10.0.0.1/', false)).toEqual({
      host: '10.0.0.1',
      port: 8500,
      secure: true,
    });
  });

  it('rejects what it cannot use with a 400', () => {
    expect(code(() => parseAddress('host:notaport', false))).toBe(400);
    expect(code(() => parseAddress('host:70000', false))).toBe(400);
    expect(code(() => parseAddress('::1', false))).toBe(400);
    expect(code(() => parseAddress('ftp://host', false))).toBe(400);
    expect(code(() => parseAddress('http://host:1/v1', false))).toBe(400);
    expect(code(() => resolveOptions({ address: ' ' }, {}))).toBe(400);
    expect(code(() => resolveOptions({ timeout: 0 }, {}))).toBe(400);
    expect(code(() => resolveOptions({ timeout: Number.NaN }, {}))).toBe(400);
    expect(code(() => resolveOptions({ watchWait: 700_000 }, {}))).toBe(400);
    expect(code(() => resolveOptions({ tcpCheck: { interval: -1 } }, {}))).toBe(400);
    expect(
      code(() => resolveOptions({ httpCheck: { url: 'x', interval: 1, timeout: 1 } }, {})),
    ).toBe(400);
    expect(
      code(() =>
        resolveOptions(
          {
            tcpCheck: { interval: 1000 },
            httpCheck: { url: 'http://{host}/', interval: 1000, timeout: 1000 },
          },
          {},
        ),
      ),
    ).toBe(400);
  });

  it('takes the check options', () => {
    const options = resolveOptions(
      { httpCheck: { url: 'http://{host}:8080/health', interval: 10_000, timeout: 2_000 } },
      {},
    );
    expect(options.httpCheck).toEqual({
      url: 'http://{host}:8080/health',
      interval: 10_000,
      timeout: 2_000,
    });
    expect(resolveOptions({ tcpCheck: { interval: 5_000 } }, {}).tcpCheck).toEqual({
      interval: 5_000,
    });
  });
});
