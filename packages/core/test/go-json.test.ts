import { describe, expect, it } from '@jest/globals';
import {
  compareGoMapKeys,
  decodeGoBytes,
  decodeGoEndpoint,
  decodeGoService,
  decodeGoString,
  decodeGoStringMap,
  decodeGoValue,
  type Endpoint,
  encodeGoEndpoint,
  encodeGoEndpoints,
  encodeGoNode,
  encodeGoService,
  encodeGoString,
  encodeGoStringMap,
  encodeGoValue,
  readGoFields,
  type Service,
} from '../src/index.js';
import { go, thrown, tricky } from './go-fixtures.js';

describe('encodeGoString and encodeGoStringMap', () => {
  it('write a map byte for byte as Go does: escapes, and keys sorted by UTF-8 bytes', () => {
    expect(go.go).toMatch(/^go1\.2[2-9]|^go1\.[3-9]/);
    expect(encodeGoStringMap(tricky)).toBe(go.encode.stringmap);
    // insertion order does not matter; a JS object puts "9" and "10" first, Go does not
    expect(encodeGoStringMap(Object.fromEntries(Object.entries(tricky).reverse()))).toBe(
      go.encode.stringmap,
    );
  });

  it('write nil as null and an empty map as {}', () => {
    expect(encodeGoStringMap(null)).toBe('null');
    expect(encodeGoStringMap(undefined)).toBe('null');
    expect(encodeGoStringMap({})).toBe('{}');
  });

  it('write a lone surrogate as \\ufffd (invalid UTF-8 to Go) and a valid pair as it is', () => {
    expect(encodeGoString('a\ud800b')).toBe('"a\\ufffdb"');
    expect(encodeGoString('\udc00')).toBe('"\\ufffd"');
    expect(encodeGoString('\ud83d\ude00\ud83d')).toBe('"😀\\ufffd"');
    expect(encodeGoString('\u001f\u007f')).toBe('"\\u001f\x7f"');
    expect(encodeGoString('plain ascii')).toBe('"plain ascii"');
  });

  it('refuse what a Go map[string]string cannot hold, naming the key', () => {
    expect(thrown(() => encodeGoStringMap({ port: 8080 } as never, 'metadata'))).toEqual([
      400,
      'json: metadata.port is not a string (got number)',
    ]);
    expect(thrown(() => encodeGoStringMap({ 'a b': null } as never))[1]).toBe(
      'json: map["a b"] is not a string (got null)',
    );
    expect(thrown(() => encodeGoStringMap(['x'] as never))[0]).toBe(400);
    expect(thrown(() => encodeGoStringMap('x' as never))[0]).toBe(400);
  });
});

describe('compareGoMapKeys', () => {
  it('orders as Buffer.compare of the UTF-8 bytes does', () => {
    const alphabet = [
      'a',
      'B',
      '~',
      'é',
      '\u2028',
      '\uff5e',
      '\uffff',
      '😀',
      '\u{10ffff}',
      '1',
      '',
    ];
    const keys: string[] = [];
    for (const x of alphabet) for (const y of alphabet) keys.push(x + y);
    const byBytes = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect([...keys].sort(compareGoMapKeys)).toEqual(byBytes);
  });

  it('sorts a lone surrogate as U+FFFD, the character it is written as', () => {
    expect(compareGoMapKeys('\ud800', '\ufffd')).toBe(0);
    expect(compareGoMapKeys('\ud83dx', '\ud83d\ude00')).toBeLessThan(0);
    expect(compareGoMapKeys('\ud800', '\ufffe')).toBeLessThan(0);
  });
});

/** The service the Go program marshals as `encode.service`. */
const goService: Service = {
  name: '<a&b>',
  version: '"q"\\',
  metadata: tricky,
  endpoints: [
    {
      name: 'Greeter.Hello',
      request: {
        name: 'Request',
        type: 'Request',
        values: [
          { name: 'name', type: 'string' },
          {
            name: 'nested',
            type: 'Inner',
            values: [{ name: 'deep', type: 'int64', values: [] }],
          },
        ],
      },
      metadata: { stream: 'false', description: 'says <hello> & more' },
    },
    { name: 'Greeter.Stream', metadata: {} },
  ],
  nodes: [
    { id: 'n/1', address: '[::1]:80', metadata: { registry: 'etcd', protocol: 'mucp' } },
    { id: 'n2', address: '' },
  ],
};

describe("encoders of go-micro's registry records", () => {
  it('write a Service byte for byte as Go does (field order of registry/registry.go)', () => {
    expect(encodeGoService(goService)).toBe(go.encode.service);
  });

  it('write nil maps and lists as null, empty ones as {} and []', () => {
    expect(encodeGoService({ name: 'a', version: undefined as never, nodes: null as never })).toBe(
      go.encode.zero,
    );
    expect(
      encodeGoService({
        name: 'a',
        version: 'v',
        metadata: {},
        endpoints: [],
        nodes: [{ id: '', address: '', metadata: {} }],
      }),
    ).toBe(go.encode.empties);
  });

  it('write a Node, an Endpoint and a Value as Go does', () => {
    expect(encodeGoNode({ id: 'x', address: '10.0.0.5:41234', metadata: { b: '2', a: '1' } })).toBe(
      go.encode.node,
    );
    expect(encodeGoValue({ name: 'v', type: '[]string' })).toBe(go.encode.value);
    expect(encodeGoValue(null)).toBe('null');
    expect(encodeGoEndpoint({ name: 'E.F' })).toBe(go.encode.endpoint);
    expect(encodeGoEndpoints(null)).toBe('null');
    expect(encodeGoEndpoints([])).toBe('[]');
  });

  it('write the endpoints other packages captured from Go (Consul tags, mDNS TXT)', () => {
    // registry-consul test/fixtures/go-encoding.json, endpoints[].json
    const consul: [Endpoint, string][] = [
      [
        {
          name: 'Greeter.Hello',
          request: { name: 'Request', type: 'Request', values: [{ name: 'name', type: 'string' }] },
          response: {
            name: 'Response',
            type: 'Response',
            values: [{ name: 'msg', type: 'string' }],
          },
          metadata: { stream: 'false', description: 'says <hello>' },
        },
        '{"request":{"name":"Request","type":"Request","values":[{"name":"name","type":"string","values":null}]},"response":{"name":"Response","type":"Response","values":[{"name":"msg","type":"string","values":null}]},"metadata":{"description":"says \\u003chello\\u003e","stream":"false"},"name":"Greeter.Hello"}',
      ],
      [
        { name: 'Greeter.Stream', metadata: { stream: 'true' } },
        '{"request":null,"response":null,"metadata":{"stream":"true"},"name":"Greeter.Stream"}',
      ],
      [
        {
          name: 'Greeter.Empty',
          metadata: {},
          request: { name: 'Empty', type: 'Empty', values: [] },
        },
        '{"request":{"name":"Empty","type":"Empty","values":[]},"response":null,"metadata":{},"name":"Greeter.Empty"}',
      ],
    ];
    for (const [endpoint, json] of consul) expect(encodeGoEndpoint(endpoint)).toBe(json);
  });

  it('refuse a field of the wrong type with a 400 that names it, rather than write what Go cannot read', () => {
    const bad = (patch: object) => thrown(() => encodeGoService({ ...goService, ...patch }));
    expect(bad({ metadata: { port: 8080 } })).toEqual([
      400,
      'json: service.metadata.port is not a string (got number)',
    ]);
    expect(bad({ version: 2 })[1]).toBe('json: service.version is not a string (got number)');
    expect(bad({ endpoints: {} })[1]).toBe('json: service.endpoints is not an array (got object)');
    expect(bad({ endpoints: [null] })[1]).toBe(
      'json: service.endpoints[0] is not an object (got null)',
    );
    expect(bad({ nodes: [{ id: 'n', address: 7 }] })[1]).toBe(
      'json: service.nodes[0].address is not a string (got number)',
    );
    expect(
      bad({ endpoints: [{ name: 'E', request: { name: 'r', type: 't', values: 'x' } }] })[1],
    ).toBe('json: service.endpoints[0].request.values is not an array (got string)');
    expect(thrown(() => encodeGoService(null as never))[0]).toBe(400);
  });

  it('refuse values nested more than 64 deep', () => {
    let value = { name: 'leaf', type: 't' };
    for (let i = 0; i < 70; i++) value = { name: 'v', type: 't', values: [value] } as never;
    expect(thrown(() => encodeGoValue(value))[1]).toMatch(/nested too deeply/);
  });
});

describe("decoders of go-micro's registry records", () => {
  /**
   * Go keeps a null list element as a nil pointer and a missing `nodes` as a nil
   * slice; the TypeScript types hold neither, so those are left out and `[]`.
   */
  const asDecodedHere = (goResult: string) =>
    goResult
      .replace(/\[null,/g, '[')
      .replace(/\[null\]/g, '[]')
      .replace('"nodes":null', '"nodes":[]');

  it.each(go.serviceDecode.map((c) => [c.input, c] as const))(
    'reads %s as Go does',
    (input, expected) => {
      const result = thrown(() => decodeGoService(JSON.parse(input)));
      if (expected.error !== undefined) {
        expect(result[0]).toBe(400);
        return;
      }
      expect(result).toEqual([0, '']);
      const service = decodeGoService(JSON.parse(input));
      if (expected.result === 'null') {
        expect(service).toBeNull();
        return;
      }
      expect(encodeGoService(service!)).toBe(asDecodedHere(expected.result!));
    },
  );

  it('says which field has the wrong type', () => {
    const message = (input: string) => thrown(() => decodeGoService(JSON.parse(input)))[1];
    expect(message('{"name":"a","nodes":[{"id":3}]}')).toBe(
      'json: service.nodes[0].id is not a string (got number)',
    );
    expect(message('{"name":"a","metadata":{"k":1}}')).toBe(
      'json: service.metadata.k is not a string (got number)',
    );
    expect(message('{"name":"a","endpoints":[{"request":{"values":3}}]}')).toBe(
      'json: service.endpoints[0].request.values is not an array (got number)',
    );
    expect(message('[]')).toBe('json: service is not an object (got array)');
  });

  it('keeps null maps and lists as null, for normalizeService to fill in', () => {
    expect(decodeGoService(JSON.parse(go.encode.zero))).toEqual({
      name: 'a',
      version: '',
      metadata: null,
      endpoints: null,
      nodes: [],
    });
    expect(decodeGoEndpoint(JSON.parse(go.encode.endpoint))).toEqual({
      name: 'E.F',
      request: null,
      response: null,
      metadata: null,
    });
    expect(decodeGoValue(JSON.parse(go.encode.value))).toEqual({
      name: 'v',
      type: '[]string',
      values: null,
    });
  });

  it('round-trips what it writes', () => {
    expect(encodeGoService(decodeGoService(JSON.parse(go.encode.service))!)).toBe(
      go.encode.service,
    );
  });

  it('keeps a __proto__ metadata key as data', () => {
    const service = decodeGoService(JSON.parse('{"name":"a","metadata":{"__proto__":"x"}}'));
    expect(Object.keys(service!.metadata!)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(service!.metadata)).toBe(Object.prototype);
    expect(encodeGoStringMap(service!.metadata)).toBe('{"__proto__":"x"}');
  });

  it('refuses values nested more than 64 deep', () => {
    const deep = `${'{"values":['.repeat(70)}{}${']}'.repeat(70)}`;
    expect(thrown(() => decodeGoValue(JSON.parse(deep)))[1]).toMatch(/nested too deeply/);
  });
});

describe('Go encoding/json building blocks', () => {
  it("match field names as Go's decoder does, the later of two keys winning", () => {
    const names = ['name', 'version', 'Body'] as const;
    expect(readGoFields(JSON.parse('{"NAME":"a","verſion":"1","body":"b"}'), 'x', names)).toEqual({
      name: 'a',
      version: '1',
      Body: 'b',
    });
    expect(readGoFields(JSON.parse('{"name":"a","Name":"b"}'), 'x', names)).toEqual({ name: 'b' });
    expect(readGoFields(JSON.parse('{"nam":"a","names":"b","n\u0430me":"c"}'), 'x', names)).toEqual(
      {},
    );
    expect(readGoFields(null, 'x', names)).toBeNull();
    expect(thrown(() => readGoFields(5, 'x', names))[1]).toBe(
      'json: x is not an object (got number)',
    );
  });

  it('read null as the zero value and a lone surrogate escape as U+FFFD', () => {
    expect(decodeGoString(null, 's')).toBe('');
    expect(decodeGoString(JSON.parse('"\\ud83d\\ude00\\udc00"'), 's')).toBe('😀\ufffd');
    expect(decodeGoStringMap(JSON.parse('{"k":null,"j":"v"}'), 'm')).toEqual({ k: '', j: 'v' });
    expect(decodeGoStringMap(null, 'm')).toBeNull();
    expect(thrown(() => decodeGoStringMap([], 'm'))[1]).toBe(
      'json: m is not an object (got array)',
    );
    expect(thrown(() => decodeGoString(true, 's'))[1]).toBe(
      'json: s is not a string (got boolean)',
    );
  });

  it('read []byte as Go does: padded standard base64, newlines ignored', () => {
    const text = (json: unknown) => Buffer.from(decodeGoBytes(json, 'b')!).toString('latin1');
    expect(text('aGk=')).toBe('hi');
    expect(text('a\r\nGk=\n')).toBe('hi');
    expect(text('aGl=')).toBe('hi'); // Go ignores the unused low bits too
    expect(text('')).toBe('');
    expect(decodeGoBytes(null, 'b')).toBeNull();
    for (const bad of ['aGk', 'aGk==', 'aGk=aGk=', '====', '-_8=', 'aGk =', 'Y===', 5, [1]]) {
      expect([bad, thrown(() => decodeGoBytes(bad, 'b'))[0]]).toEqual([bad, 400]);
    }
    // Characters Node's decoder would read by their low byte ('Ň' as 'G', 'ū' as 'k')
    for (const bad of ['a\u0147k=', 'aG\u016b=', 'aGk\u013d', '\u{1F600}aG']) {
      expect([bad, thrown(() => decodeGoBytes(bad, 'b'))[0]]).toEqual([bad, 400]);
    }
  });

  it('refuse exactly what is not padded standard base64, and decode the rest as Go does', () => {
    // The rule Go's StdEncoding applies (newlines aside): the alphabet, then at most
    // two '=', a multiple of 4 long. Random strings near the boundary of that rule.
    const standard = /^[A-Za-z0-9+/]*={0,2}$/;
    const alphabet = 'aGk0+/=-_ .\t\u0000\u007f\u00e9\u0147\u2028\ud800';
    let seed = 42;
    const random = (n: number) => {
      // mulberry32: the same strings on every run
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) % n;
    };
    let accepted = 0;
    for (let round = 0; round < 20_000; round++) {
      const length = 4 * (1 + random(2));
      let text = '';
      for (let i = 0; i < length; i++) {
        // mostly valid characters, so that near misses are common
        text += random(8) === 0 ? alphabet[random(alphabet.length)] : 'QWxh'[random(4)];
      }
      const valid = standard.test(text);
      const [code] = thrown(() => decodeGoBytes(text, 'b'));
      expect([text, code]).toEqual([text, valid ? 0 : 400]);
      if (valid) {
        accepted++;
        expect([...decodeGoBytes(text, 'b')!]).toEqual([...Buffer.from(text, 'base64')]);
      }
    }
    expect(accepted).toBeGreaterThan(2_000);
  });
});
