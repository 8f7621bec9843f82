import { describe, expect, it } from '@jest/globals';
import { encodeGoString as goQuote, isMicroError, type Service } from '@micro/core';
import {
  decodeService,
  encodeService,
  nodeKey,
  REGISTRY_PREFIX,
  servicePrefix,
} from '../src/encoding.js';

// The expected strings below are what Go 1.26's encoding/json printed for go-micro's
// registry structs (registry/registry.go field order and tags) filled with the same data.

function code(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (error) {
    return isMicroError(error) ? error.code : -1;
  }
  return undefined;
}

describe('keys', () => {
  it('puts each node at /micro/registry/<service>/<nodeId>', () => {
    expect(REGISTRY_PREFIX).toBe('/micro/registry/');
    expect(nodeKey('helloworld', 'helloworld-1f3a')).toBe(
      '/micro/registry/helloworld/helloworld-1f3a',
    );
    expect(nodeKey('go.micro.srv.greeter', 'a:b@c')).toBe(
      '/micro/registry/go.micro.srv.greeter/a:b@c',
    );
  });

  it('replaces every / in the service name and node id with -', () => {
    expect(nodeKey('team/svc/v1', 'node/1/')).toBe('/micro/registry/team-svc-v1/node-1-');
    expect(nodeKey('/', '//')).toBe('/micro/registry/-/--');
    expect(servicePrefix('team/svc')).toBe('/micro/registry/team-svc/');
  });

  it('rejects names that would leave the registry prefix, with a 400', () => {
    expect(code(() => nodeKey('', 'n'))).toBe(400);
    expect(code(() => nodeKey('svc', ''))).toBe(400);
    expect(code(() => nodeKey('..', 'n'))).toBe(400);
    expect(code(() => nodeKey('svc', '.'))).toBe(400);
    expect(code(() => servicePrefix('..'))).toBe(400);
    expect(code(() => nodeKey('svc', undefined as unknown as string))).toBe(400);
  });

  it('keeps dots that are part of a name', () => {
    expect(nodeKey('...', '.n.')).toBe('/micro/registry/.../.n.');
  });
});

const helloworld: Service = {
  name: 'helloworld',
  version: 'latest',
  metadata: { b: '2', a: '1' },
  endpoints: [
    {
      name: 'Greeter.Hello',
      request: { name: 'Request', type: 'Request', values: [{ name: 'name', type: 'string' }] },
      metadata: { stream: 'true' },
    },
  ],
  nodes: [],
};

describe('encodeService', () => {
  it("writes go-micro's single-node record byte for byte", () => {
    const node = {
      id: 'helloworld-1',
      address: '10.0.0.5:41234',
      metadata: { registry: 'etcd', protocol: 'mucp' },
    };
    expect(encodeService(helloworld, node)).toBe(
      '{"name":"helloworld","version":"latest","metadata":{"a":"1","b":"2"},' +
        '"endpoints":[{"request":{"name":"Request","type":"Request","values":[{"name":"name",' +
        '"type":"string","values":null}]},"response":null,"metadata":{"stream":"true"},' +
        '"name":"Greeter.Hello"}],"nodes":[{"metadata":{"protocol":"mucp","registry":"etcd"},' +
        '"id":"helloworld-1","address":"10.0.0.5:41234"}]}',
    );
  });

  it('writes null for a missing map or list, as Go does for nil', () => {
    expect(
      encodeService(
        { name: 'a', version: undefined as unknown as string, nodes: [] },
        { id: 'n', address: '' },
      ),
    ).toBe(
      '{"name":"a","version":"","metadata":null,"endpoints":null,"nodes":[{"metadata":null,"id":"n","address":""}]}',
    );
    expect(
      encodeService(
        { name: 'a', version: '', metadata: null, endpoints: null, nodes: [] },
        { id: 'n', address: '', metadata: null },
      ),
    ).toBe(
      '{"name":"a","version":"","metadata":null,"endpoints":null,"nodes":[{"metadata":null,"id":"n","address":""}]}',
    );
  });

  it('writes {} and [] for an empty map or list, as Go does for non-nil empties', () => {
    expect(
      encodeService(
        { name: 'a', version: 'v', metadata: {}, endpoints: [], nodes: [] },
        { id: 'n', address: 'h:1', metadata: {} },
      ),
    ).toBe(
      '{"name":"a","version":"v","metadata":{},"endpoints":[],"nodes":[{"metadata":{},"id":"n","address":"h:1"}]}',
    );
  });

  it('escapes like Go (HTML-safe, U+2028/9) and sorts map keys by their UTF-8 bytes', () => {
    const service: Service = {
      name: '<a&b>',
      version: '"q"\\',
      metadata: {
        z: '\x01\b\f\n\r\t\x7f',
        é: '\u2028\u2029',
        a: '😀',
        '\uff5e': 'x',
        '😀': 'y',
        '': 'empty',
      },
      nodes: [],
    };
    expect(encodeService(service, { id: 'n/1', address: '[::1]:80' })).toBe(
      '{"name":"\\u003ca\\u0026b\\u003e","version":"\\"q\\"\\\\","metadata":{"":"empty",' +
        '"a":"😀","z":"\\u0001\\b\\f\\n\\r\\t\x7f","é":"\\u2028\\u2029","\uff5e":"x","😀":"y"},' +
        '"endpoints":null,"nodes":[{"metadata":null,"id":"n/1","address":"[::1]:80"}]}',
    );
  });

  it('writes a lone surrogate as U+FFFD, the replacement Go makes for invalid UTF-8', () => {
    expect(goQuote('a\ud800b')).toBe('"a\\ufffdb"');
    expect(goQuote('\udc00')).toBe('"\\ufffd"');
    expect(goQuote('\u001f\u007f')).toBe('"\\u001f\x7f"');
  });

  it('always stores exactly the one node it is given', () => {
    const service = {
      ...helloworld,
      nodes: [
        { id: 'x', address: 'y' },
        { id: 'z', address: 'w' },
      ],
    };
    const stored = JSON.parse(encodeService(service, { id: 'only', address: 'h:1' }));
    expect(stored.nodes).toEqual([{ metadata: null, id: 'only', address: 'h:1' }]);
  });

  it('round-trips through JSON.parse to the same data', () => {
    const node = { id: 'helloworld-1', address: '10.0.0.5:41234', metadata: { protocol: 'mucp' } };
    expect(decodeService(encodeService(helloworld, node))).toEqual({
      ...helloworld,
      metadata: { a: '1', b: '2' },
      endpoints: [
        {
          name: 'Greeter.Hello',
          request: {
            name: 'Request',
            type: 'Request',
            values: [{ name: 'name', type: 'string', values: null }],
          },
          response: null,
          metadata: { stream: 'true' },
        },
      ],
      nodes: [node],
    });
  });

  it('rejects fields of the wrong type with a 400 instead of writing a record Go cannot read', () => {
    const node = { id: 'n', address: 'a' };
    const bad = (patch: object) => code(() => encodeService({ ...helloworld, ...patch }, node));
    expect(bad({ metadata: { port: 8080 } })).toBe(400);
    expect(bad({ metadata: ['x'] })).toBe(400);
    expect(bad({ version: 2 })).toBe(400);
    expect(bad({ endpoints: {} })).toBe(400);
    expect(bad({ endpoints: [null] })).toBe(400);
    expect(code(() => encodeService(helloworld, { id: 'n', address: 7 } as never))).toBe(400);
  });
});

describe('decodeService', () => {
  it('reads a record written by go-micro, nulls as {} and []', () => {
    const service = decodeService(
      '{"name":"a","version":"","metadata":null,"endpoints":null,"nodes":[{"metadata":null,"id":"n","address":""}]}',
    );
    expect(service).toEqual({
      name: 'a',
      version: '',
      metadata: {},
      endpoints: [],
      nodes: [{ id: 'n', address: '', metadata: {} }],
    });
  });

  it('reads endpoint nulls as go-micro writes them', () => {
    const service = decodeService(
      Buffer.from(
        '{"name":"a","version":"1","metadata":{},"endpoints":[{"request":null,"response":null,' +
          '"metadata":null,"name":"E.F"}],"nodes":null}',
      ),
    );
    expect(service.endpoints).toEqual([
      { name: 'E.F', request: null, response: null, metadata: {} },
    ]);
    expect(service.nodes).toEqual([]);
  });

  it('matches field names case-insensitively and tolerates missing fields, as Go does', () => {
    const service = decodeService('{"NAME":"x","Version":"1","nodes":[{"ID":"n","address":"a"}]}');
    expect(service).toEqual({
      name: 'x',
      version: '1',
      metadata: {},
      endpoints: [],
      nodes: [{ id: 'n', address: 'a', metadata: {} }],
    });
  });

  it('throws for a value that is not a go-micro record', () => {
    expect(() => decodeService('not json')).toThrow(/not JSON/);
    expect(() => decodeService('null')).toThrow(/not a JSON object/);
    expect(() => decodeService('[1]')).toThrow(/not a JSON object/);
    expect(() => decodeService('{"version":"1"}')).toThrow(/no service name/);
    expect(() => decodeService('{"name":"a","nodes":{}}')).toThrow(/nodes is not an array/);
    expect(() => decodeService('{"name":"a","nodes":[{"id":3}]}')).toThrow(/id is not a string/);
    expect(() => decodeService('{"name":"a","metadata":{"k":1}}')).toThrow(/metadata\.k/);
  });
});
