import { describe, expect, it } from '@jest/globals';
import { decodeZlibHex, encodeZlibHex } from '@micro/core';
import { decodeMdnsTxt, encodeMdnsTxt, mdnsTxtJson, splitTxt } from '../src/encoding.js';

/**
 * The TXT strings go-micro's own mDNS registry (go-micro.dev/v6 at 77fc793d5bab) served
 * for the service below, captured off the wire with a plain multicast-dns query: Go's
 * zlib output, cut at 255 characters.
 */
const GO_TXT = [
  '789c5490b16aec3010457f65b9b530fb76e115ea43d2a449204db2859007af40969499b1c118ff7b90d72c762571b8a3a3b933de495debd4c1ce289c35fb1c61d10fbec080a90ba23c55d2268181b24b52322b2ceeaa058bc127f1183cc1a2cb327a187c114bc80916ff9a4b7385c14b6a4b0e4905f67b06d3ef40a2559a5c5',
  'f273f3662a0533982d1c5811e735b783d9e49510ea9db05d310e3725beaf7a5e42474f06c68277a92c30306fdae9b96c47328fad84adc24a79fe17cbefa3bc598d72bade4f2ffd467a6dacba67c6522256ede6a12cb6df90b0000ffff1ff47dff',
];

/** The JSON inside {@link GO_TXT}, as Go's json.Marshal wrote it. */
const GO_JSON =
  '{"Metadata":{"protocol":"mucp","registry":"mdns","transport":"http"},"Service":"gosvc","Version":"1.2.3","Endpoints":[{"request":{"name":"Request","type":"Request","values":[{"name":"name","type":"string","values":null}]},"response":{"name":"Response","type":"Response","values":null},"metadata":{"description":"says \\u003chello\\u003e \\u0026 more"},"name":"Greeter.Hello"}]}';

const goService = {
  name: 'gosvc',
  version: '1.2.3',
  endpoints: [
    {
      name: 'Greeter.Hello',
      request: {
        name: 'Request',
        type: 'Request',
        values: [{ name: 'name', type: 'string', values: null }],
      },
      response: { name: 'Response', type: 'Response', values: null },
      metadata: { description: 'says <hello> & more' },
    },
  ],
};
const goNode = { metadata: { transport: 'http', protocol: 'mucp', registry: 'mdns' } };

describe('mDNS TXT encoding', () => {
  it('decodes the TXT strings a Go go-micro service serves', () => {
    expect(decodeMdnsTxt(GO_TXT)).toEqual({
      Metadata: { protocol: 'mucp', registry: 'mdns', transport: 'http' },
      Service: 'gosvc',
      Version: '1.2.3',
      Endpoints: goService.endpoints,
    });
    expect(decodeZlibHex(GO_TXT.join(''))).toBe(GO_JSON);
  });

  it("writes the JSON byte for byte as Go's json.Marshal does", () => {
    // capitalised top-level keys, Go's field order, sorted map keys, <>& escaped, nil as null
    expect(mdnsTxtJson(goService, goNode)).toBe(GO_JSON);
    expect(mdnsTxtJson({ name: 's', version: '' }, { metadata: null })).toBe(
      '{"Metadata":null,"Service":"s","Version":"","Endpoints":null}',
    );
    expect(mdnsTxtJson({ name: 's', version: 'v', endpoints: [] }, { metadata: {} })).toBe(
      '{"Metadata":{},"Service":"s","Version":"v","Endpoints":[]}',
    );
  });

  it('encodes hex(zlib(JSON)) in strings of at most 255 characters that Go reads back', () => {
    const strings = encodeMdnsTxt(goService, goNode);
    expect(strings.length).toBeGreaterThan(1);
    for (const text of strings) {
      expect(text.length).toBeLessThanOrEqual(255);
      expect(text).toMatch(/^[0-9a-f]+$/);
    }
    expect(strings.slice(0, -1).every((text) => text.length === 255)).toBe(true);
    expect(decodeZlibHex(strings.join(''))).toBe(GO_JSON);
    expect(decodeMdnsTxt(strings)).toEqual(decodeMdnsTxt(GO_TXT));
  });

  it('keeps a short payload in one string', () => {
    const strings = encodeMdnsTxt({ name: 'a', version: 'v' }, { metadata: null });
    expect(strings).toHaveLength(1);
    expect(decodeMdnsTxt(strings)).toEqual({
      Metadata: null,
      Service: 'a',
      Version: 'v',
      Endpoints: null,
    });
  });

  it('splits at exactly 255 characters, as go-micro', () => {
    expect(splitTxt('a'.repeat(255))).toEqual(['a'.repeat(255)]);
    expect(splitTxt('a'.repeat(256))).toEqual(['a'.repeat(255), 'a']);
    expect(splitTxt('b'.repeat(600)).map((s) => s.length)).toEqual([255, 255, 90]);
    expect(splitTxt('')).toEqual(['']);
  });

  it("accepts keys in any case, as Go's decoder does", () => {
    const strings = [encodeZlibHex('{"service":"x","VERSION":"1","metadata":{"a":"b"}}')];
    expect(decodeMdnsTxt(strings)).toEqual({
      Metadata: { a: 'b' },
      Service: 'x',
      Version: '1',
      Endpoints: null,
    });
  });

  it('reads null values as Go\'s json.Unmarshal does: "" in a map, nothing in a list', () => {
    const strings = [
      encodeZlibHex('{"Service":"x","Metadata":{"a":null},"Endpoints":[null,{"name":"E"}]}'),
    ];
    expect(decodeMdnsTxt(strings)).toEqual({
      Metadata: { a: '' },
      Service: 'x',
      Version: '',
      Endpoints: [{ name: 'E', request: null, response: null, metadata: null }],
    });
  });

  it('rejects TXT that is not go-micro encoding with a clear error', () => {
    const cases: [string[], RegExp][] = [
      [[], /empty/],
      [['not hex at all'], /not hex of zlib data/],
      [['abc'], /not hex of zlib data/],
      [['deadbeef'], /not hex of zlib data/],
      [[encodeZlibHex('not json')], /not JSON/],
      [[encodeZlibHex('[1,2]')], /not a JSON object/],
      [[encodeZlibHex('{"Service":5}')], /Service is not a string/],
      [[encodeZlibHex('{"Metadata":{"a":1}}')], /Metadata.a is not a string/],
      [[encodeZlibHex('{"Endpoints":{}}')], /Endpoints is not an array/],
      [[encodeZlibHex('{"Endpoints":["x"]}')], /Endpoints\[0\] is not an object/],
      [[encodeZlibHex('{"Endpoints":[{"request":{"values":3}}]}')], /values is not an array/],
    ];
    for (const [strings, error] of cases) {
      expect(() => decodeMdnsTxt(strings)).toThrow(error);
    }
  });
});
