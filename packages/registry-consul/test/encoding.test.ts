import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import {
  decodeZlibHex,
  type Endpoint,
  encodeGoEndpoint as goEndpointJson,
  encodeGoString as goJsonString,
} from '@micro/core';
import {
  consulAddress,
  consulMeta,
  decodeEndpoints,
  decodeMetadata,
  decodeVersion,
  deregisterCriticalAfter,
  encodeTags,
  goDuration,
  hostPort,
  splitHostPort,
} from '../src/encoding.js';

interface Fixture {
  input: string;
  json?: string;
  tag: string;
}

/** Written by `go run test/fixtures/go-encoding.go` (Go's encoding/json + compress/zlib + hex). */
const go = JSON.parse(readFileSync(join(__dirname, 'fixtures/go-encoding.json'), 'utf8')) as {
  versions: Fixture[];
  metadata: Fixture[];
  endpoints: Fixture[];
  durations: Record<string, string>;
};

/** The endpoints the Go fixture program encodes, in the same order. */
const fixtureEndpoints: Endpoint[] = [
  {
    name: 'Greeter.Hello',
    request: { name: 'Request', type: 'Request', values: [{ name: 'name', type: 'string' }] },
    response: { name: 'Response', type: 'Response', values: [{ name: 'msg', type: 'string' }] },
    metadata: { stream: 'false', description: 'says <hello>' },
  },
  { name: 'Greeter.Stream', metadata: { stream: 'true' } },
  {
    name: 'Greeter.Empty',
    metadata: {},
    request: { name: 'Empty', type: 'Empty', values: [] },
  },
];

const payloadOf = (tag: string) => decodeZlibHex(tag.slice(2));

describe('go-micro tag encoding', () => {
  it('decodes version tags exactly as Go wrote them (go-micro encoding_test fixture included)', () => {
    expect(go.versions.map((v) => v.tag)).toContain('v-789c32d433d03300040000ffff02ce00ee');
    for (const fixture of go.versions) {
      expect(decodeVersion([fixture.tag])).toBe(fixture.input);
    }
  });

  it('decodes node metadata tags written by Go, escapes included', () => {
    const decoded = decodeMetadata(go.metadata.map((m) => m.tag));
    expect(decoded).toEqual({
      protocol: 'mucp',
      registry: 'consul',
      html: '<a href="x">&</a>',
      unicode: 'zürich \u2028 ✓',
      control: 'tab\tnl\nbs\bff\fnul\u0000',
    });
  });

  it('decodes endpoint tags written by Go', () => {
    const decoded = decodeEndpoints(go.endpoints.map((e) => e.tag));
    expect(decoded).toEqual([
      {
        name: 'Greeter.Hello',
        request: {
          name: 'Request',
          type: 'Request',
          values: [{ name: 'name', type: 'string', values: null }],
        },
        response: {
          name: 'Response',
          type: 'Response',
          values: [{ name: 'msg', type: 'string', values: null }],
        },
        metadata: { description: 'says <hello>', stream: 'false' },
      },
      { name: 'Greeter.Stream', request: null, response: null, metadata: { stream: 'true' } },
      {
        name: 'Greeter.Empty',
        request: { name: 'Empty', type: 'Empty', values: [] },
        response: null,
        metadata: {},
      },
    ]);
  });

  it("writes the JSON inside each tag byte for byte as Go's encoding/json does", () => {
    fixtureEndpoints.forEach((endpoint, i) => {
      expect(goEndpointJson(endpoint)).toBe(go.endpoints[i]!.json);
    });
    const metadata = Object.fromEntries(
      go.metadata.map((m) => {
        const [key, ...rest] = m.input.split('=');
        return [key!, rest.join('=')];
      }),
    );
    const tags = encodeTags(metadata, [], '1.0.0').filter((t) => t.startsWith('t-'));
    const payloads = tags.map(payloadOf).sort();
    expect(payloads).toEqual(go.metadata.map((m) => m.json).sort());
  });

  it('lays out tags as go-micro: one t- per metadata key, one e- per endpoint, then v-', () => {
    const tags = encodeTags({ zone: 'a', protocol: 'mucp' }, fixtureEndpoints.slice(0, 2), 'v2');
    expect(tags.map((t) => t.slice(0, 2))).toEqual(['t-', 't-', 'e-', 'e-', 'v-']);
    expect(tags.every((t) => /^[tev]-[0-9a-f]+$/.test(t))).toBe(true);
    expect(payloadOf(tags[0]!)).toBe('{"protocol":"mucp"}');
    expect(payloadOf(tags[1]!)).toBe('{"zone":"a"}');
    expect(payloadOf(tags[4]!)).toBe('v2');
    // zlib header of the default compression level, as Go's zlib.NewWriter writes it
    expect(tags[4]!.slice(2, 6)).toBe('789c');
  });

  it('round-trips its own tags', () => {
    const metadata = { protocol: 'grpc', 'weird key': 'x<y>&z', empty: '' };
    const tags = encodeTags(metadata, fixtureEndpoints, '1.2.3');
    expect(decodeMetadata(tags)).toEqual(metadata);
    expect(decodeVersion(tags)).toBe('1.2.3');
    const endpoints = decodeEndpoints(tags);
    expect(endpoints.map((e) => e.name)).toEqual(fixtureEndpoints.map((e) => e.name));
    expect(endpoints[1]).toEqual({
      name: 'Greeter.Stream',
      request: null,
      response: null,
      metadata: { stream: 'true' },
    });
  });

  it('encodes an empty version and no metadata or endpoints as just the v- tag', () => {
    const tags = encodeTags(null, null, '');
    expect(tags).toHaveLength(1);
    expect(decodeVersion(tags)).toBe('');
  });

  it('decodes the legacy plain forms t=, e= and v=', () => {
    const tags = [
      't={"a":"1"}',
      't={"b":"2"}',
      'e={"name":"Legacy.Call","request":null,"response":null,"metadata":null}',
      'v=0.9',
    ];
    expect(decodeMetadata(tags)).toEqual({ a: '1', b: '2' });
    expect(decodeEndpoints(tags)).toEqual([
      { name: 'Legacy.Call', request: null, response: null, metadata: null },
    ]);
    expect(decodeVersion(tags)).toBe('0.9');
  });

  it("reads tag JSON as Go's json.Unmarshal does: any key case, null as the zero value", () => {
    const tags = [
      't={"a":null,"b":"2"}',
      'e={"NAME":"Upper.Case","Request":{"Name":"R","values":[null]},"metadata":{"k":null}}',
    ];
    expect(decodeMetadata(tags)).toEqual({ a: '', b: '2' });
    expect(decodeEndpoints(tags)).toEqual([
      {
        name: 'Upper.Case',
        request: { name: 'R', type: '', values: [] },
        response: null,
        metadata: { k: '' },
      },
    ]);
  });

  it('locks onto the first format seen, as go-micro does', () => {
    const hexTag = encodeTags({ b: '2' }, [], '').find((t) => t.startsWith('t-'))!;
    expect(decodeMetadata(['t={"a":"1"}', hexTag])).toEqual({ a: '1' });
    expect(decodeMetadata([hexTag, 't={"a":"1"}'])).toEqual({ b: '2' });
    expect(decodeVersion(['v=plain', 'v-789c32d433d03300040000ffff02ce00ee'])).toBe('plain');
  });

  it('skips tags that do not decode, and other tags altogether', () => {
    const good = encodeTags({ ok: 'yes' }, [{ name: 'A.B' }], '1');
    const tags = [
      'team',
      'traefik.enable=true',
      't-zz',
      't-789c',
      't=[1,2]',
      't={"n":1}',
      'e-00',
      'e={"name":5}',
      'e="x"',
      ...good,
    ];
    expect(decodeMetadata(tags)).toEqual({ ok: 'yes' });
    expect(decodeEndpoints(tags).map((e) => e.name)).toEqual(['A.B']);
    expect(decodeVersion(['version', 'v-nothex'])).toBe('');
    expect(decodeVersion(['x', 'y'])).toBeUndefined();
  });
});

describe('Go duration strings', () => {
  it("prints durations exactly as Go's time.Duration.String()", () => {
    for (const [milliseconds, expected] of Object.entries(go.durations)) {
      expect(`${milliseconds} → ${goDuration(Number(milliseconds))}`).toBe(
        `${milliseconds} → ${expected}`,
      );
    }
  });

  it('covers the TTLs services use', () => {
    expect(goDuration(90_000)).toBe('1m30s');
    expect(goDuration(60_000)).toBe('1m0s');
    expect(goDuration(2_000)).toBe('2s');
    expect(goDuration(-1_500)).toBe('-1.5s');
    expect(() => goDuration(Number.NaN)).toThrow(RangeError);
  });
});

describe("go-micro's getDeregisterTTL", () => {
  it('is the TTL plus 5 s, but at least 1m5s', () => {
    expect(goDuration(deregisterCriticalAfter(2_000))).toBe('1m5s');
    expect(goDuration(deregisterCriticalAfter(59_999))).toBe('1m5s');
    expect(goDuration(deregisterCriticalAfter(60_000))).toBe('1m5s');
    expect(goDuration(deregisterCriticalAfter(90_000))).toBe('1m35s');
    expect(goDuration(deregisterCriticalAfter(3_600_000))).toBe('1h0m5s');
  });
});

describe('addresses', () => {
  it("splits like Go's net.SplitHostPort", () => {
    expect(splitHostPort('10.0.0.5:41234')).toEqual({ host: '10.0.0.5', port: '41234' });
    expect(splitHostPort('[::1]:8080')).toEqual({ host: '::1', port: '8080' });
    expect(splitHostPort('host:')).toEqual({ host: 'host', port: '' });
    expect(splitHostPort('host')).toBeUndefined();
    expect(splitHostPort('::1')).toBeUndefined();
    expect(splitHostPort('[::1]')).toBeUndefined();
    expect(splitHostPort('[::1]x:80')).toBeUndefined();
  });

  it("gives Consul's Address and Port as go-micro's Register does", () => {
    expect(consulAddress('10.0.0.5:41234')).toEqual({ host: '10.0.0.5', port: 41234 });
    expect(consulAddress('[fe80::1]:9000')).toEqual({ host: 'fe80::1', port: 9000 });
    expect(consulAddress('queue-name')).toEqual({ host: 'queue-name', port: 0 });
    expect(consulAddress(':8080')).toEqual({ host: ':8080', port: 8080 });
    expect(consulAddress('host:http')).toEqual({ host: 'host', port: 0 });
  });

  it("joins Address and Port as go-micro's mnet.HostPort", () => {
    expect(hostPort('10.0.0.5', 41234)).toBe('10.0.0.5:41234');
    expect(hostPort('fe80::1', 9000)).toBe('[fe80::1]:9000');
    expect(hostPort('queue-name', 0)).toBe('queue-name');
    expect(hostPort('10.0.0.5', 0)).toBe('10.0.0.5:0');
  });

  it('writes Go JSON string escapes', () => {
    expect(goJsonString('<&>\u2028"\\')).toBe('"\\u003c\\u0026\\u003e\\u2028\\"\\\\"');
  });
});

describe("Consul's Meta limits", () => {
  it('keeps valid pairs and leaves out what Consul would reject, saying why', () => {
    const { meta, dropped } = consulMeta({
      protocol: 'mucp',
      'has.dot': 'x',
      'consul-owned': 'x',
      ['k'.repeat(129)]: 'x',
      long: 'v'.repeat(513),
      ok_key: 'v'.repeat(512),
      '': 'empty key',
    });
    expect(meta).toEqual({ protocol: 'mucp', ok_key: 'v'.repeat(512) });
    expect(dropped.map((d) => d.key).sort()).toEqual(
      ['', 'consul-owned', 'has.dot', 'k'.repeat(129), 'long'].sort(),
    );
    expect(dropped.find((d) => d.key === 'long')!.reason).toMatch(/512/);
  });

  it('keeps at most 64 pairs', () => {
    const metadata = Object.fromEntries(
      Array.from({ length: 70 }, (_, i) => [`k${String(i).padStart(2, '0')}`, 'v']),
    );
    const { meta, dropped } = consulMeta(metadata);
    expect(Object.keys(meta)).toHaveLength(64);
    expect(dropped).toHaveLength(6);
  });
});
