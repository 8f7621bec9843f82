import { describe, expect, it } from '@jest/globals';
import { Codecs } from '@micro/core';
import { codecConformance, thrownMicroError } from '@micro/testing';
import { createMsgpackCodec, MsgpackCodec, msgpackCodec } from '../src/index.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const bytes = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

codecConformance('msgpack', () => createMsgpackCodec(), { binary: true, dates: true });

describe('MsgpackCodec identity', () => {
  it('is named msgpack and answers application/msgpack and application/x-msgpack', () => {
    expect(msgpackCodec).toBeInstanceOf(MsgpackCodec);
    expect(msgpackCodec.name).toBe('msgpack');
    expect(msgpackCodec.contentType).toBe('application/msgpack');
    expect(msgpackCodec.aliases).toEqual(['application/x-msgpack']);
    const codecs = new Codecs([msgpackCodec]);
    expect(codecs.get('application/x-msgpack')).toBe(msgpackCodec);
    expect(codecs.get('Application/MsgPack; charset=binary')).toBe(msgpackCodec);
  });

  it('takes other content types', () => {
    const codec = createMsgpackCodec({ contentType: 'application/vnd.msgpack', aliases: [] });
    expect(codec.contentType).toBe('application/vnd.msgpack');
    expect(new Codecs([codec]).get('application/x-msgpack')).toBeUndefined();
  });
});

describe('MsgpackCodec wire format (plain MessagePack any language reads)', () => {
  it('writes objects as plain maps, never msgpackr records, however often a shape repeats', () => {
    expect(hex(msgpackCodec.marshal({ a: 1 }))).toBe('81a16101');
    // Go's msgpack writes []map[string]int{{"a":1},{"a":2}} the same way.
    expect(hex(msgpackCodec.marshal([{ a: 1 }, { a: 2 }, { a: 3 }]))).toBe(
      '93' + '81a16101' + '81a16102' + '81a16103',
    );
  });

  it('writes the shortest integer, float 64 for fractions, and nil/true/false', () => {
    expect(hex(msgpackCodec.marshal([0, 127, 128, -1, -33, 65_536, 1.5, null, true, false]))).toBe(
      '9a' + '00' + '7f' + 'cc80' + 'ff' + 'd0df' + 'ce00010000' + 'cb3ff8000000000000' + 'c0c3c2',
    );
  });

  it('writes Uint8Array as bin and Dates as the standard timestamp extension (-1)', () => {
    expect(hex(msgpackCodec.marshal(new Uint8Array([1, 2, 3])))).toBe('c403010203');
    // Whole seconds: timestamp 32.
    expect(hex(msgpackCodec.marshal(new Date('2023-11-14T22:13:20Z')))).toBe('d6ff6553f100');
    // Milliseconds: timestamp 64 (nanoseconds in the top 30 bits).
    expect(hex(msgpackCodec.marshal(new Date(1_700_000_000_123)))).toBe('d7ff1d5353006553f100');
  });

  it('reads what Go msgpack libraries write: str8 keys, map16, uint64, timestamp 96', () => {
    const fromGo = bytes(`
      de 0003
        d9 04 6e616d65  a4 4a6f686e
        a3 616765  cf 0000000000000020
        a4 7768656e  c7 0c ff 00000000 000000006553f100`);
    expect(msgpackCodec.unmarshal(fromGo)).toEqual({
      name: 'John',
      age: 32,
      when: new Date('2023-11-14T22:13:20Z'),
    });
  });

  it('reads integer map keys as string keys', () => {
    expect(msgpackCodec.unmarshal(bytes('82 01 a1 61 02 a1 62'))).toEqual({ 1: 'a', 2: 'b' });
  });
});

describe('MsgpackCodec undefined and bigint', () => {
  it('leaves out properties whose value is undefined, as JSON does', () => {
    expect(hex(msgpackCodec.marshal({ a: undefined, b: 1 }))).toBe('81a16201');
    expect(msgpackCodec.unmarshal(msgpackCodec.marshal({ a: undefined, b: 1 }))).toEqual({ b: 1 });
  });

  it('writes undefined in an array and at the top as nil, read back as null', () => {
    expect(hex(msgpackCodec.marshal([undefined, 1]))).toBe('92c001');
    expect(hex(msgpackCodec.marshal(undefined))).toBe('c0');
    expect(msgpackCodec.unmarshal(msgpackCodec.marshal(undefined))).toBeNull();
  });

  it('reads an empty body as undefined', () => {
    expect(msgpackCodec.unmarshal(new Uint8Array(0))).toBeUndefined();
  });

  it('writes a bigint as a 64-bit integer: int 64, or uint 64 past 2^63 - 1', () => {
    expect(hex(msgpackCodec.marshal(2n ** 63n - 1n))).toBe('d37fffffffffffffff');
    expect(hex(msgpackCodec.marshal(-(2n ** 63n)))).toBe('d38000000000000000');
    expect(hex(msgpackCodec.marshal(2n ** 64n - 1n))).toBe('cfffffffffffffffff');
  });

  it('refuses a bigint outside 64 bits with a 500', () => {
    const error = thrownMicroError(() => msgpackCodec.marshal({ id: 2n ** 64n }));
    expect(error.code).toBe(500);
    expect(error.id).toBe('go.micro.codec');
    expect(error.detail).toMatch(/^msgpack: cannot encode value: .*too large/);
  });

  it('reads 64-bit integers as numbers when exact and as bigints otherwise (auto)', () => {
    const decoded = msgpackCodec.unmarshal(
      msgpackCodec.marshal({ small: 7n, safe: 2n ** 53n, big: 2n ** 63n - 1n, neg: -(2n ** 60n) }),
    );
    expect(decoded).toEqual({ small: 7, safe: 2 ** 53, big: 2n ** 63n - 1n, neg: -(2n ** 60n) });
  });

  it('reads 64-bit integers as bigint, number or string when asked', () => {
    const encoded = msgpackCodec.marshal({ small: 7n, big: 2n ** 63n - 1n });
    expect(createMsgpackCodec({ int64AsType: 'bigint' }).unmarshal(encoded)).toEqual({
      small: 7n,
      big: 2n ** 63n - 1n,
    });
    expect(createMsgpackCodec({ int64AsType: 'string' }).unmarshal(encoded)).toEqual({
      small: '7',
      big: '9223372036854775807',
    });
    expect(createMsgpackCodec({ int64AsType: 'number' }).unmarshal(encoded)).toEqual({
      small: 7,
      big: 2 ** 63,
    });
  });
});

describe('MsgpackCodec values it cannot encode (500)', () => {
  it.each([
    ['a function', { run: () => 1 }, /function/],
    ['a symbol', { tag: Symbol('x') }, /symbol/],
    ['an invalid Date', { when: new Date(Number.NaN) }, /invalid Date/],
  ])('refuses %s', (_what, value, detail) => {
    const error = thrownMicroError(() => msgpackCodec.marshal(value));
    expect(error.code).toBe(500);
    expect(error.detail).toMatch(detail);
  });

  it('refuses a cyclic structure with a 500 and keeps encoding correctly afterwards', () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const error = thrownMicroError(() => msgpackCodec.marshal(cyclic));
    expect(error.code).toBe(500);
    expect(error.detail).toMatch(/nested or cyclic/);
    expect(hex(msgpackCodec.marshal({ a: 1 }))).toBe('81a16101');
    expect(msgpackCodec.unmarshal(msgpackCodec.marshal({ list: [1, 2] }))).toEqual({
      list: [1, 2],
    });
  });
});

describe('MsgpackCodec strict framing (400)', () => {
  const valid = msgpackCodec.marshal({ name: 'John', tags: ['a', 'b'], data: new Uint8Array(8) });

  it('refuses trailing bytes after one value', () => {
    for (const trailer of [[0x00], [0xc0], [0x81, 0xa1, 0x61, 0x01]]) {
      const padded = Buffer.concat([valid, Buffer.from(trailer)]);
      const error = thrownMicroError(() => msgpackCodec.unmarshal(padded));
      expect(error.code).toBe(400);
      expect(error.id).toBe('go.micro.codec');
      expect(error.detail).toMatch(/trailing byte/);
    }
  });

  it('refuses the body cut at every length', () => {
    for (let length = 1; length < valid.byteLength; length++) {
      const error = thrownMicroError(() => msgpackCodec.unmarshal(valid.subarray(0, length)));
      expect(error.code).toBe(400);
      expect(error.detail).toMatch(/truncated/);
    }
  });

  it('refuses the reserved byte 0xc1, at the top and nested', () => {
    for (const body of ['c1', '91c1', '81a161c1', '82a16101c1c0']) {
      const error = thrownMicroError(() => msgpackCodec.unmarshal(bytes(body)));
      expect(error.code).toBe(400);
      expect(error.detail).toMatch(/0xc1/);
    }
  });

  it('refuses at once a container that claims more items than the body holds', () => {
    // array 32 of 4 294 967 295 items in 5 bytes; map 32 likewise.
    for (const body of ['ddffffffff', 'dfffffffff', 'dc0010c0']) {
      expect(thrownMicroError(() => msgpackCodec.unmarshal(bytes(body))).code).toBe(400);
    }
  });

  it('refuses an unknown extension type', () => {
    const error = thrownMicroError(() => msgpackCodec.unmarshal(bytes('d5 17 0102')));
    expect(error.code).toBe(400);
    expect(error.detail).toMatch(/extension/i);
  });

  it('answers 400, without crashing, for nesting deeper than the stack', () => {
    const deep = Buffer.alloc(200_001, 0x91);
    deep[200_000] = 0xc0;
    const error = thrownMicroError(() => msgpackCodec.unmarshal(deep));
    expect(error.code).toBe(400);
    expect(msgpackCodec.unmarshal(msgpackCodec.marshal({ ok: true }))).toEqual({ ok: true });
  });

  it('keeps a __proto__ key as data without touching prototypes', () => {
    const decoded = msgpackCodec.unmarshal(
      bytes('81 a9 5f5f70726f746f5f5f 81 a5 61646d696e c3'),
    ) as {
      admin?: boolean;
    };
    expect(decoded.admin).toBeUndefined();
    expect(({} as { admin?: boolean }).admin).toBeUndefined();
  });
});

describe('MsgpackCodec binary data', () => {
  it('copies binary values out of the body by default', () => {
    const body = Buffer.from(msgpackCodec.marshal({ data: new Uint8Array([1, 2, 3]) }));
    const decoded = msgpackCodec.unmarshal(body) as { data: Uint8Array };
    body.fill(0);
    expect([...decoded.data]).toEqual([1, 2, 3]);
  });

  it('hands out views of the body with copyBuffers: false', () => {
    const codec = createMsgpackCodec({ copyBuffers: false });
    const body = Buffer.from(codec.marshal({ data: new Uint8Array([1, 2, 3]) }));
    const decoded = codec.unmarshal(body) as { data: Uint8Array };
    body.fill(0);
    expect([...decoded.data]).toEqual([0, 0, 0]);
  });

  it('round-trips binary nested in arrays and maps, and empty binary', () => {
    const value = {
      files: [{ name: 'a', data: new Uint8Array([255, 0]) }],
      empty: new Uint8Array(0),
    };
    const decoded = msgpackCodec.unmarshal(msgpackCodec.marshal(value)) as typeof value;
    expect([...decoded.files[0]!.data]).toEqual([255, 0]);
    expect(decoded.empty).toBeInstanceOf(Uint8Array);
    expect(decoded.empty.byteLength).toBe(0);
  });

  it('writes a Map as a map and reads it back as an object', () => {
    const encoded = msgpackCodec.marshal(new Map([['k', 1]]));
    expect(hex(encoded)).toBe('81a16b01');
    expect(msgpackCodec.unmarshal(encoded)).toEqual({ k: 1 });
  });
});

describe('MsgpackCodec options', () => {
  it('writes msgpackr records with useRecords, which only msgpackr reads, and reads them back', () => {
    const codec = createMsgpackCodec({ useRecords: true });
    const value = [
      { sku: 'x', qty: 1 },
      { sku: 'y', qty: 2 },
    ];
    const encoded = codec.marshal(value);
    expect(hex(encoded)).toContain('d472'); // the record definition extension
    expect(codec.unmarshal(encoded)).toEqual(value);
    // msgpackr still refuses padded and truncated bodies then.
    const padded = Buffer.concat([encoded, Buffer.from([0x01])]);
    expect(thrownMicroError(() => codec.unmarshal(padded)).code).toBe(400);
    expect(thrownMicroError(() => codec.unmarshal(encoded.subarray(0, 6))).code).toBe(400);
  });

  it('writes Sets as arrays by default and as msgpackr Sets with moreTypes', () => {
    expect(msgpackCodec.unmarshal(msgpackCodec.marshal(new Set([1, 2])))).toEqual([1, 2]);
    const codec = createMsgpackCodec({ moreTypes: true });
    expect(codec.unmarshal(codec.marshal(new Set([1, 2])))).toEqual(new Set([1, 2]));
  });
});
