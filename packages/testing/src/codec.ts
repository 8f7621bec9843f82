import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  type Codec,
  createService,
  type Header,
  type Message,
  type MicroError,
  type MicroService,
  parseError,
  silentLogger,
} from '@micro/core';
import { randomName, thrownMicroError } from './helpers.js';

/** What a codec can represent beyond JSON's data model. */
export interface CodecCapabilities {
  /** Uint8Array values round-trip as bytes. */
  binary?: boolean;
  /** Date values round-trip as Dates. */
  dates?: boolean;
}

function expectCodecError(error: MicroError, code: number): void {
  expect(error.id).toBe('go.micro.codec');
  expect(error.code).toBe(code);
}

/** Bytes that start like text but break every format's framing. */
const GARBAGE = Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x00, 0x13, 0x37, 0xc1, 0x80, 0x22]);

/**
 * The contract of a {@link Codec}: values a service would send survive a
 * round-trip, and malformed input is a codec error (400), never a crash or garbage.
 * Then the same codec in a Service: the server answers in the request's content
 * type (aliases included), an undecodable body is a 400 carrying the codec's
 * error, an unsupported content type a 415 naming the supported ones, and the
 * service keeps serving.
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
      expectCodecError(
        thrownMicroError(() => codec.unmarshal(truncated)),
        400,
      );
    });

    it('throws a 400 codec error for bytes trailing a complete value', () => {
      const encoded = codec.marshal({ complete: true });
      const doubled = Buffer.concat([encoded, encoded]);
      expectCodecError(
        thrownMicroError(() => codec.unmarshal(doubled)),
        400,
      );
    });

    it('throws a 400 codec error for random garbage', () => {
      expectCodecError(
        thrownMicroError(() => codec.unmarshal(GARBAGE)),
        400,
      );
    });
  });

  describe(`Codec conformance: ${name} through a Service (in-process)`, () => {
    const codec = factory();
    const contentTypes = [codec.contentType, ...(codec.aliases ?? [])];
    const serviceName = randomName('codec');
    const request = { name: 'John', tags: ['a', 'b'], nested: { n: 42 } };
    let service: MicroService;

    beforeAll(async () => {
      service = await createService({ name: serviceName, codecs: [codec], logger: silentLogger });
      service.handle({ Call: async (value: unknown) => value }, { name: 'Echo' });
      await service.start();
    });

    afterAll(async () => {
      await service.stop();
    });

    /** Sends one raw request to the server and returns its reply. */
    async function exchange(contentType: string, body: Uint8Array): Promise<Message> {
      const socket = await service.transport.dial(service.server.address);
      try {
        const header: Header = {
          'Micro-Id': '1',
          'Micro-Service': serviceName,
          'Micro-Endpoint': 'Echo.Call',
          'Content-Type': contentType,
        };
        await socket.send({ header, body });
        return await socket.recv();
      } finally {
        await socket.close();
      }
    }

    const call = (contentType: string) =>
      service.client.call(serviceName, 'Echo.Call', request, { contentType });

    it('carries a call made in its content type', async () => {
      expect(await call(codec.contentType)).toEqual(request);
    });

    it('answers in the content type of the request, aliases included', async () => {
      for (const contentType of contentTypes) {
        const reply = await exchange(contentType, codec.marshal(request));
        expect(reply.header['Micro-Error']).toBeUndefined();
        expect(reply.header['Content-Type']).toBe(contentType);
        expect(codec.unmarshal(reply.body)).toEqual(request);
      }
    });

    it("answers 400 with the codec's error to an undecodable body, and keeps serving", async () => {
      const valid = codec.marshal(request);
      for (const body of [
        GARBAGE,
        valid.subarray(0, Math.floor(valid.byteLength / 2)),
        Buffer.concat([valid, valid]),
      ]) {
        const codecError = thrownMicroError(() => codec.unmarshal(body));
        const reply = await exchange(codec.contentType, body);
        const error = parseError(reply.header['Micro-Error'] ?? '');
        expect(error.code).toBe(400);
        expect(error.detail).toContain(`cannot decode ${codec.contentType} body: `);
        expect(error.detail).toContain(codecError.detail);
      }
      expect(await call(codec.contentType)).toEqual(request);
    });

    it('answers 415 to an unsupported content type, naming the supported ones', async () => {
      const reply = await exchange('application/x-unsupported', Buffer.from('<a/>'));
      const error = parseError(reply.header['Micro-Error'] ?? '');
      expect(error.code).toBe(415);
      for (const type of [...contentTypes, 'application/json']) {
        expect(error.detail).toContain(type);
      }
      expect(await call(codec.contentType)).toEqual(request);
    });
  });
}
