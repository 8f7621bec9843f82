import { describe, expect, it } from '@jest/globals';
import { type Codec, isMicroError } from '@micro/core';

/** What a codec can represent beyond JSON's data model. */
export interface CodecCapabilities {
  /** Uint8Array values round-trip as bytes. */
  binary?: boolean;
  /** Date values round-trip as Dates. */
  dates?: boolean;
}

function expectCodecError(error: unknown, code: number): void {
  expect(isMicroError(error)).toBe(true);
  if (isMicroError(error)) {
    expect(error.id).toBe('go.micro.codec');
    expect(error.code).toBe(code);
  }
}

/**
 * The contract of a {@link Codec}: values a service would send survive a
 * round-trip, and malformed input is a codec error (400), never a crash or garbage.
 *
 * @param name shown in the suite title
 * @param factory creates the codec under test
 * @param capabilities what beyond JSON's data model the format carries
 */
export function codecConformance(
  name: string,
  factory: () => Codec,
  capabilities: CodecCapabilities = {},
): void {
  describe(`Codec conformance: ${name}`, () => {
    const codec = factory();
    const roundTrip = (value: unknown) => codec.unmarshal(codec.marshal(value));

    it('names itself and its content type', () => {
      expect(codec.name).toMatch(/\S/);
      expect(codec.contentType).toMatch(/^[a-z]+\/[\w.+-]+$/);
    });

    it('encodes to bytes', () => {
      expect(codec.marshal({ name: 'John' })).toBeInstanceOf(Uint8Array);
    });

    it('round-trips a request a service would send', () => {
      const request = { name: 'John', age: 42, admin: false, score: -3.25, tags: ['a', 'b'] };
      expect(roundTrip(request)).toEqual(request);
    });

    it('round-trips nested objects and arrays of objects', () => {
      const value = {
        order: {
          id: 'o-1',
          customer: { name: 'Ada', address: { city: 'London', lines: ['1 Main St', 'Flat 2'] } },
          items: [
            { sku: 'x', qty: 1, price: 9.99 },
            { sku: 'y', qty: 2, price: 0.5 },
          ],
        },
        empty: {},
        none: null,
        matrix: [
          [1, 2],
          [3, 4],
        ],
      };
      expect(roundTrip(value)).toEqual(value);
    });

    it('round-trips unicode text', () => {
      const value = {
        text: 'héllo wörld — 你好, мир 👋🏽',
        escape: 'quote " backslash \\ nul \u0000',
      };
      expect(roundTrip(value)).toEqual(value);
    });

    it('round-trips large integers within the safe range and negative numbers', () => {
      const value = {
        max: Number.MAX_SAFE_INTEGER,
        min: Number.MIN_SAFE_INTEGER,
        zero: 0,
        neg: -1,
      };
      expect(roundTrip(value)).toEqual(value);
    });

    it('round-trips a top-level array, string, number and boolean', () => {
      for (const value of [[1, 'two', { three: 3 }], 'just a string', 42, true]) {
        expect(roundTrip(value)).toEqual(value);
      }
    });

    it('round-trips a 1 MiB string', () => {
      const value = { blob: 'x'.repeat(1024 * 1024) };
      expect(roundTrip(value)).toEqual(value);
    });

    if (capabilities.binary) {
      it('round-trips binary data byte for byte', () => {
        const bytes = new Uint8Array(256).map((_, i) => i);
        const decoded = roundTrip({ data: bytes }) as { data: Uint8Array };
        expect(decoded.data).toBeInstanceOf(Uint8Array);
        expect([...decoded.data]).toEqual([...bytes]);
      });
    }

    if (capabilities.dates) {
      it('round-trips dates', () => {
        const when = new Date('2026-11-21T10:20:30.456Z');
        const decoded = roundTrip({ when }) as { when: Date };
        expect(decoded.when).toBeInstanceOf(Date);
        expect(decoded.when.getTime()).toBe(when.getTime());
      });
    }

    it('throws a 400 codec error for truncated input', () => {
      const encoded = codec.marshal({ nested: { list: [1, 2, 3], text: 'abcdefghijklmnop' } });
      const truncated = encoded.subarray(0, Math.floor(encoded.byteLength / 2));
      let caught: unknown;
      try {
        codec.unmarshal(truncated);
      } catch (error) {
        caught = error;
      }
      expectCodecError(caught, 400);
    });

    it('throws a 400 codec error for bytes trailing a complete value', () => {
      const encoded = codec.marshal({ complete: true });
      const doubled = Buffer.concat([encoded, encoded]);
      let caught: unknown;
      try {
        codec.unmarshal(doubled);
      } catch (error) {
        caught = error;
      }
      expectCodecError(caught, 400);
    });

    it('throws a 400 codec error for random garbage', () => {
      // Bytes that start like text but break every format's framing.
      const garbage = Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x00, 0x13, 0x37, 0xc1, 0x80, 0x22]);
      let caught: unknown;
      try {
        codec.unmarshal(garbage);
      } catch (error) {
        caught = error;
      }
      expectCodecError(caught, 400);
    });
  });
}
