import { describe, expect, it } from '@jest/globals';
import { decodeMessage, encodeMessage, MessageDecodeError } from '../src/index.js';
import { PROTO_FILE, protoDecode, protoEncode, streamMethod } from './proto.js';

const hex = (buffer: Uint8Array) => Buffer.from(buffer).toString('hex');
const bytes = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

describe('the shipped proto', () => {
  it("declares go-micro's service, method and path", () => {
    expect(streamMethod.path).toBe('/go.micro.transport.grpc.Transport/Stream');
    expect(streamMethod.requestStream).toBe(true);
    expect(streamMethod.responseStream).toBe(true);
    expect(PROTO_FILE.endsWith('proto/transport.proto')).toBe(true);
  });
});

describe('encodeMessage', () => {
  it("writes go-micro's Message as Go's protobuf runtime does", () => {
    // header (field 1): one map entry {key (1): "a", value (2): "b"}; body (field 2): "x"
    expect(hex(encodeMessage({ a: 'b' }, Buffer.from('x')))).toBe('0a060a0161120162' + '120178');
  });

  it('writes both fields of a map entry even when empty, and leaves out an empty body', () => {
    expect(hex(encodeMessage({ a: '' }, new Uint8Array(0)))).toBe('0a050a01611200');
    expect(hex(encodeMessage({ '': '' }, new Uint8Array(0)))).toBe('0a040a001200');
    expect(hex(encodeMessage({}, new Uint8Array(0)))).toBe('');
  });

  it('writes multi-byte lengths as varints', () => {
    for (const size of [127, 128, 16_383, 16_384, 2_097_152, 4 * 1024 * 1024]) {
      const body = new Uint8Array(size).fill(7);
      const encoded = encodeMessage({}, body);
      const decoded = protoDecode(encoded);
      expect(decoded.body.length).toBe(size);
      expect(encoded.length).toBe(1 + Math.ceil(Math.log2(size + 1) / 7) + size);
    }
  });

  it('encodes UTF-8 keys and values by their byte length', () => {
    const header = { 'X-Unicode': 'héllo 你好 🎉', Ключ: 'значение' };
    const encoded = encodeMessage(header, Buffer.from('body'));
    expect(protoDecode(encoded).header).toEqual(header);
  });

  it('produces bytes protobuf.js reads back exactly', () => {
    const header: Record<string, string> = {
      'Content-Type': 'application/json',
      'Micro-Id': '42',
      'Micro-Service': 'helloworld',
      'Micro-Endpoint': 'Greeter.Hello',
      Timeout: '5000000000',
      Empty: '',
    };
    for (let i = 0; i < 200; i++) header[`X-Key-${i}`] = 'v'.repeat(i);
    const body = new Uint8Array(1000).map((_, i) => i % 256);
    const decoded = protoDecode(encodeMessage(header, body));
    expect(decoded.header).toEqual(header);
    expect(hex(decoded.body)).toBe(hex(body));
  });
});

describe('decodeMessage', () => {
  it('reads what protobuf.js writes', () => {
    const header = { 'Micro-Error': '{"id":"x","code":500}', 'X-Unicode': '你好' };
    const body = Buffer.from([0, 1, 2, 254, 255]);
    const decoded = decodeMessage(protoEncode({ header, body }));
    expect(decoded.header).toEqual(header);
    expect(hex(decoded.body)).toBe(hex(body));
  });

  it('reads an empty message as no headers and an empty body', () => {
    const decoded = decodeMessage(Buffer.alloc(0));
    expect(decoded.header).toEqual({});
    expect(decoded.body.byteLength).toBe(0);
  });

  it('returns the body as a view of the received buffer', () => {
    const received = encodeMessage({ a: 'b' }, Buffer.from('payload'));
    const decoded = decodeMessage(received);
    expect(decoded.body.buffer).toBe(received.buffer);
  });

  it('skips unknown fields of every wire type', () => {
    const message = bytes(`
      08 96 01
      19 0102030405060708
      25 01020304
      2a 03 616263
      0a 11 0a 01 61 12 01 62 18 ffffffffffffffffff01
      12 01 78
    `);
    const decoded = decodeMessage(message);
    expect(decoded.header).toEqual({ a: 'b' });
    expect(Buffer.from(decoded.body).toString()).toBe('x');
  });

  it('keeps the last of repeated keys and bodies, and reads entries in any field order', () => {
    const message = bytes(`
      0a 06 0a 01 6b 12 01 31
      0a 06 12 01 32 0a 01 6b
      12 01 61
      12 01 62
      0a 03 12 01 76
      0a 03 0a 01 6e
    `);
    const decoded = decodeMessage(message);
    expect(decoded.header).toEqual({ k: '2', '': 'v', n: '' });
    expect(Buffer.from(decoded.body).toString()).toBe('b');
  });

  it('keeps a __proto__ key as a plain header', () => {
    const decoded = decodeMessage(
      encodeMessage(JSON.parse('{"__proto__":"x","a":"b"}'), new Uint8Array(0)),
    );
    expect(Object.getPrototypeOf(decoded.header)).toBe(Object.prototype);
    expect(Object.keys(decoded.header)).toEqual(['__proto__', 'a']);
    expect(Object.getOwnPropertyDescriptor(decoded.header, '__proto__')?.value).toBe('x');
  });

  it.each([
    ['a truncated tag', '8a'],
    ['a length beyond the end', '12 05 0102'],
    ['a map entry beyond the end', '0a 05 0a 01 61'],
    ['a map entry overrunning its length', '0a 02 0a 03 616263'],
    ['a group wire type', '0b'],
    ['field number 0', '02 00'],
    ['a varint over 32 bits as a length', '12 ffffffff7f'],
    ['a truncated fixed64', '19 0102'],
  ])('refuses %s with MessageDecodeError', (_what, input) => {
    expect(() => decodeMessage(bytes(input))).toThrow(MessageDecodeError);
  });
});
