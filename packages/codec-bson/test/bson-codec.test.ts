import { describe, expect, it } from '@jest/globals';
import { Codecs } from '@micro/core';
import { codecConformance, thrownMicroError } from '@micro/testing';
import {
  Binary,
  BSONRegExp,
  Decimal128,
  Double,
  Int32,
  Long,
  MaxKey,
  ObjectId,
  serialize,
  Timestamp,
  UUID,
} from 'bson';
import {
  BSON_MAX_DOCUMENT_SIZE,
  BSON_WRAPPER_FIELD,
  BsonCodec,
  bsonCodec,
  createBsonCodec,
} from '../src/index.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const bytes = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const roundTrip = (value: unknown, codec = bsonCodec) => codec.unmarshal(codec.marshal(value));

codecConformance('bson', () => createBsonCodec(), { binary: true, dates: true });

describe('BsonCodec identity', () => {
  it('is named bson and answers application/bson', () => {
    expect(bsonCodec).toBeInstanceOf(BsonCodec);
    expect(bsonCodec.name).toBe('bson');
    expect(bsonCodec.contentType).toBe('application/bson');
    expect(new Codecs([bsonCodec]).get('application/bson')).toBe(bsonCodec);
  });

  it('takes other content types and refuses a nonsensical size limit', () => {
    const codec = createBsonCodec({ contentType: 'application/vnd.bson', aliases: ['x/bson'] });
    expect(new Codecs([codec]).get('x/bson')).toBe(codec);
    expect(() => createBsonCodec({ maxDocumentSize: 0 })).toThrow(TypeError);
  });
});

describe('BsonCodec wire format', () => {
  it('writes a document as plain BSON, byte for byte what any BSON library writes', () => {
    // {"a": int32 1, "b": "x"}
    expect(hex(bsonCodec.marshal({ a: 1, b: 'x' }))).toBe(
      '15000000' + '106100' + '01000000' + '026200' + '02000000' + '7800' + '00',
    );
  });

  it('reads a document as another BSON library (e.g. Go) writes it', () => {
    // {"name": "John", "age": int64 32, "ok": true}
    const fromGo = bytes(`
      26000000
        02 6e616d6500 05000000 4a6f686e00
        12 61676500 2000000000000000
        08 6f6b00 01
      00`);
    expect(bsonCodec.unmarshal(fromGo)).toEqual({ name: 'John', age: 32, ok: true });
  });

  it('reads an empty body as undefined', () => {
    expect(bsonCodec.unmarshal(new Uint8Array(0))).toBeUndefined();
  });
});

describe('BsonCodec wrapping of values that are not documents', () => {
  it(`wraps them as { "${BSON_WRAPPER_FIELD}": value }`, () => {
    // {"$value": int32 42}
    const field = Buffer.from('$value\0').toString('hex');
    // size 17, int32 element "$value" = 42, end of document
    expect(hex(bsonCodec.marshal(42))).toBe(`1100000010${field}2a00000000`);
    expect(bsonCodec.unmarshal(serialize({ $value: [1, 2] }))).toEqual([1, 2]);
  });

  it.each([
    ['an array', [1, 'two', { three: 3 }]],
    ['a string', 'just a string'],
    ['a number', -3.25],
    ['a boolean', false],
    ['null', null],
    ['an empty array', []],
  ])('round-trips %s at the top', (_what, value) => {
    expect(roundTrip(value)).toEqual(value);
  });

  it('round-trips Uint8Array, Date and BSON values at the top', () => {
    const data = roundTrip(new Uint8Array([1, 2, 3])) as Uint8Array;
    expect(data).toBeInstanceOf(Uint8Array);
    expect([...data]).toEqual([1, 2, 3]);
    const when = roundTrip(new Date(1_700_000_000_123)) as Date;
    expect(when.getTime()).toBe(1_700_000_000_123);
    const id = new ObjectId();
    expect((roundTrip(id) as ObjectId).equals(id)).toBe(true);
    expect(roundTrip(Long.fromString('9223372036854775807'))).toEqual(
      Long.fromString('9223372036854775807'),
    );
  });

  it('sends undefined as null, as JSON does', () => {
    expect(roundTrip(undefined)).toBeNull();
  });

  it('leaves documents unwrapped, and documents with other fields named $value too', () => {
    expect(roundTrip({ v: 1 })).toEqual({ v: 1 });
    expect(roundTrip({ $value: 1, other: 2 })).toEqual({ $value: 1, other: 2 });
    expect(roundTrip({})).toEqual({});
  });

  it('keeps a document whose only field is the wrapper field exactly as it was', () => {
    expect(roundTrip({ $value: 'mine' })).toEqual({ $value: 'mine' });
    expect(roundTrip({ $value: { $value: 1 } })).toEqual({ $value: { $value: 1 } });
    expect(roundTrip(new Map([['$value', 1]]))).toEqual({ $value: 1 });
  });

  it('writes a Map as a document', () => {
    expect(
      roundTrip(
        new Map<string, unknown>([
          ['a', 1],
          ['b', 'x'],
        ]),
      ),
    ).toEqual({ a: 1, b: 'x' });
  });
});

describe('BsonCodec BSON types', () => {
  it('round-trips ObjectId, Decimal128, Timestamp, MaxKey and BSON regular expressions', () => {
    const value = {
      id: new ObjectId('65537100aabbccddeeff0011'),
      price: Decimal128.fromString('1234567890.123456789012345678901234'),
      ts: new Timestamp({ t: 1_700_000_000, i: 7 }),
      max: new MaxKey(),
      pattern: new BSONRegExp('^a+', 'i'),
    };
    const decoded = roundTrip(value) as typeof value;
    expect(decoded.id).toBeInstanceOf(ObjectId);
    expect(decoded.id.toHexString()).toBe('65537100aabbccddeeff0011');
    expect(decoded.price).toBeInstanceOf(Decimal128);
    expect(decoded.price.toString()).toBe('1234567890.123456789012345678901234');
    expect(decoded.ts).toBeInstanceOf(Timestamp);
    expect(decoded.ts.equals(value.ts)).toBe(true);
    expect(decoded.max).toBeInstanceOf(MaxKey);
    expect(decoded.pattern).toEqual(/^a+/i);
  });

  it('reads int32 and double as numbers', () => {
    expect(roundTrip({ i: new Int32(5), d: new Double(2) })).toEqual({ i: 5, d: 2 });
  });

  it('reads int64 as a number when exact and as Long otherwise (auto)', () => {
    const decoded = roundTrip({
      small: Long.fromNumber(5),
      big: Long.fromString('9223372036854775807'),
      fromBigint: 2n ** 62n,
    }) as Record<string, unknown>;
    expect(decoded.small).toBe(5);
    expect(decoded.big).toBeInstanceOf(Long);
    expect((decoded.big as Long).toString()).toBe('9223372036854775807');
    expect(decoded.fromBigint).toEqual(Long.fromBigInt(2n ** 62n));
  });

  it('reads every int64 as Long or as bigint when asked', () => {
    const encoded = bsonCodec.marshal({ small: Long.fromNumber(5), big: 2n ** 63n - 1n });
    expect(createBsonCodec({ int64AsType: 'long' }).unmarshal(encoded)).toEqual({
      small: Long.fromNumber(5),
      big: Long.fromBigInt(2n ** 63n - 1n),
    });
    expect(createBsonCodec({ int64AsType: 'bigint' }).unmarshal(encoded)).toEqual({
      small: 5n,
      big: 2n ** 63n - 1n,
    });
  });

  it('keeps the subtype of Binary values; subtype 4 reads as UUID', () => {
    const uuid = new UUID('1b4e28ba-2fa1-11d2-883f-0016d3cca427');
    const decoded = roundTrip({
      md5: new Binary(Buffer.from('0123456789abcdef'), Binary.SUBTYPE_MD5),
      custom: new Binary(new Uint8Array([1, 2]), 0x80),
      uuid,
    }) as Record<string, Binary>;
    expect(decoded.md5).toBeInstanceOf(Binary);
    expect(decoded.md5!.sub_type).toBe(Binary.SUBTYPE_MD5);
    expect(decoded.md5!.toString('utf8')).toBe('0123456789abcdef');
    expect(decoded.custom!.sub_type).toBe(0x80);
    expect(decoded.uuid).toBeInstanceOf(UUID);
    expect((decoded.uuid as UUID).toHexString()).toBe(uuid.toHexString());
  });

  it('reads generic binary as a Uint8Array of its own, nested at any depth', () => {
    const body = Buffer.from(
      bsonCodec.marshal({ files: [{ data: new Uint8Array([1, 2, 3]) }], raw: new Binary([4]) }),
    );
    const decoded = bsonCodec.unmarshal(body) as {
      files: { data: Uint8Array }[];
      raw: Uint8Array;
    };
    body.fill(0);
    expect(decoded.files[0]!.data).toBeInstanceOf(Uint8Array);
    expect([...decoded.files[0]!.data]).toEqual([1, 2, 3]);
    expect([...decoded.raw]).toEqual([4]);
  });

  it('writes a bigint as int64 and leaves out undefined properties, functions and symbols', () => {
    const decoded = roundTrip({
      n: -(2n ** 63n),
      gone: undefined,
      run: () => 1,
      tag: Symbol('x'),
      list: [undefined, 1],
    });
    expect(decoded).toEqual({ n: Long.fromBigInt(-(2n ** 63n)), list: [null, 1] });
  });
});

describe('BsonCodec values it cannot encode (500)', () => {
  it('refuses a bigint outside int64, naming the field', () => {
    const error = thrownMicroError(() => bsonCodec.marshal({ order: { ids: [1n, 2n ** 63n] } }));
    expect(error.code).toBe(500);
    expect(error.id).toBe('go.micro.codec');
    expect(error.detail).toBe(
      "bson: cannot encode value: order.ids.1: bigint 9223372036854775808 is outside BSON's int64 range",
    );
    expect(thrownMicroError(() => bsonCodec.marshal(-(2n ** 63n) - 1n)).code).toBe(500);
  });

  it('refuses an invalid Date instead of writing 1970-01-01', () => {
    const error = thrownMicroError(() => bsonCodec.marshal({ when: new Date(Number.NaN) }));
    expect(error.code).toBe(500);
    expect(error.detail).toMatch(/when: invalid Date/);
  });

  it('refuses a cyclic structure', () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const error = thrownMicroError(() => bsonCodec.marshal(cyclic));
    expect(error.code).toBe(500);
    expect(error.detail).toMatch(/circular/);
  });

  it('refuses a document over 16 MiB with a message that says so', () => {
    expect(BSON_MAX_DOCUMENT_SIZE).toBe(16 * 1024 * 1024);
    const error = thrownMicroError(() => bsonCodec.marshal({ blob: 'x'.repeat(16 * 1024 * 1024) }));
    expect(error.code).toBe(500);
    expect(error.detail).toBe(
      'bson: cannot encode value: the document is larger than the BSON limit of 16777216 bytes (16 MiB)',
    );
  });

  it('refuses a document over 17 MiB, which bson alone would silently truncate', () => {
    const error = thrownMicroError(() => bsonCodec.marshal({ blob: 'x'.repeat(20 * 1024 * 1024) }));
    expect(error.code).toBe(500);
    expect(error.detail).toMatch(/larger than the BSON limit/);
  });

  it('honours a smaller maxDocumentSize on both sides', () => {
    const codec = createBsonCodec({ maxDocumentSize: 1024 });
    expect(thrownMicroError(() => codec.marshal({ blob: 'x'.repeat(2048) })).detail).toMatch(
      /larger than the BSON limit of 1024 bytes/,
    );
    const big = bsonCodec.marshal({ blob: 'x'.repeat(2048) });
    expect(thrownMicroError(() => codec.unmarshal(big)).code).toBe(400);
    expect(roundTrip({ small: 'x' }, codec)).toEqual({ small: 'x' });
  });

  it('writes a document just under 16 MiB', () => {
    const decoded = roundTrip({ blob: 'x'.repeat(16 * 1024 * 1024 - 100) }) as { blob: string };
    expect(decoded.blob.length).toBe(16 * 1024 * 1024 - 100);
  });
});

describe('BsonCodec strict framing (400)', () => {
  const valid = bsonCodec.marshal({ name: 'John', tags: ['a', 'b'], data: new Uint8Array(8) });

  it('refuses trailing bytes after the document', () => {
    const error = thrownMicroError(() =>
      bsonCodec.unmarshal(Buffer.concat([valid, Buffer.from([0])])),
    );
    expect(error.code).toBe(400);
    expect(error.detail).toMatch(/^bson: malformed body: /);
  });

  it('refuses two documents back to back (one body is one document)', () => {
    const two = Buffer.concat([valid, bsonCodec.marshal({ b: 2 })]);
    expect(thrownMicroError(() => bsonCodec.unmarshal(two)).code).toBe(400);
  });

  it('refuses the body cut at every length', () => {
    for (let length = 1; length < valid.byteLength; length++) {
      expect(thrownMicroError(() => bsonCodec.unmarshal(valid.subarray(0, length))).code).toBe(400);
    }
  });

  it('refuses an unknown element type and invalid UTF-8', () => {
    const badType = Buffer.from(bsonCodec.marshal({ a: 1 }));
    badType[4] = 0x99;
    expect(thrownMicroError(() => bsonCodec.unmarshal(badType)).detail).toMatch(
      /unknown BSON type/,
    );
    const badText = Buffer.from(bsonCodec.marshal({ s: 'ab' }));
    badText[badText.length - 3] = 0xff;
    expect(thrownMicroError(() => bsonCodec.unmarshal(badText)).detail).toMatch(/UTF-8/);
  });
});
