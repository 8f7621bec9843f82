import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { decodeEnvelope, isMicroError } from '@micro/core';
import { decodeRecord, encodeRecord } from '../src/index.js';

/** Record values written by Go's encoding/json for go-micro's broker.Message (fixtures/envelopes.go). */
interface Fixture {
  name: string;
  header: Record<string, string>;
  body: string;
  value: string;
}
const fixtures: Fixture[] = JSON.parse(
  readFileSync(join(__dirname, 'fixtures', 'envelopes.json'), 'utf8'),
);

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

function codeOf(action: () => unknown): number | undefined {
  try {
    action();
  } catch (error) {
    return isMicroError(error) ? error.code : -1;
  }
  return undefined;
}

describe('encodeRecord', () => {
  it.each(fixtures.map((f) => [f.name, f] as const))(
    'writes the bytes Go writes: %s',
    (_, fixture) => {
      // Insertion order reversed on purpose: Go sorts map keys.
      const header = Object.fromEntries(Object.entries(fixture.header).reverse());
      const value = encodeRecord({ header, body: Buffer.from(fixture.body, 'base64') });
      expect(value.toString('utf8')).toBe(fixture.value);
    },
  );

  it('writes an envelope core decodes back to the same message', () => {
    const body = new Uint8Array([0, 1, 2, 254, 255]);
    const header = { 'Micro-Topic': 'orders', 'X-Html': '<&>' };
    const decoded = decodeEnvelope(encodeRecord({ header, body }));
    expect(decoded.header).toEqual(header);
    expect([...decoded.body]).toEqual([...body]);
  });

  it('writes a body that is a view into a larger buffer as only its own bytes', () => {
    const backing = Buffer.from('xxhelloxx');
    const body = new Uint8Array(backing.buffer, backing.byteOffset + 2, 5);
    const value = JSON.parse(encodeRecord({ header: {}, body }).toString('utf8'));
    expect(Buffer.from(value.Body, 'base64').toString('utf8')).toBe('hello');
  });
});

describe('decodeRecord', () => {
  it.each(fixtures.map((f) => [f.name, f] as const))(
    'reads what a Go service publishes: %s',
    (_, fixture) => {
      const message = decodeRecord({ value: Buffer.from(fixture.value) }, 'orders');
      expect(Buffer.from(message.body).toString('base64')).toBe(fixture.body);
      expect(message.header).toMatchObject({ ...fixture.header, 'Micro-Topic': 'orders' });
    },
  );

  it('sets Micro-Topic to the record topic and defaults Content-Type to JSON, as go-micro', () => {
    const value = Buffer.from('{"Header":{"Micro-Topic":"elsewhere"},"Body":"aGk="}');
    const message = decodeRecord({ value }, 'orders');
    expect(message.header).toEqual({
      'Micro-Topic': 'orders',
      'Content-Type': 'application/json',
    });
    expect(text(message.body)).toBe('hi');
  });

  it('keeps a Content-Type the envelope carries', () => {
    const value = Buffer.from('{"Header":{"Content-Type":"application/protobuf"},"Body":""}');
    expect(decodeRecord({ value }, 't').header['Content-Type']).toBe('application/protobuf');
  });

  it('adds Kafka record headers over the envelope header (last value of a repeated key)', () => {
    const value = Buffer.from('{"Header":{"A":"envelope","B":"kept"},"Body":""}');
    const message = decodeRecord(
      {
        value,
        headers: { A: Buffer.from('record'), C: ['one', Buffer.from('two')], D: undefined },
      },
      't',
    );
    expect(message.header).toMatchObject({ A: 'record', B: 'kept', C: 'two' });
    expect(message.header).not.toHaveProperty('D');
  });

  it('delivers a plain JSON object (no Header, no Body) whole as the body, as go-micro', () => {
    const value = Buffer.from('{"orderId":42}');
    const message = decodeRecord({ value }, 'orders');
    expect(text(message.body)).toBe('{"orderId":42}');
    expect(message.header['Content-Type']).toBe('application/json');
  });

  it('reads Header and Body in any case, as Go does, so such an envelope is not a plain object', () => {
    const message = decodeRecord({ value: Buffer.from('{"header":{"X":"y"},"BODY":""}') }, 't');
    expect(message.header).toMatchObject({ X: 'y' });
    expect(message.body).toHaveLength(0);
    expect(decodeRecord({ value: Buffer.from('{"body":""}') }, 't').body).toHaveLength(0);
  });

  it('keeps an envelope with a null Body empty', () => {
    const value = Buffer.from('{"Header":{"X":"y"},"Body":null}');
    expect(decodeRecord({ value }, 't').body).toHaveLength(0);
  });

  it.each([
    ['not JSON', 'hello'],
    ['a JSON array', '[1,2]'],
    ['a JSON number', '42'],
    ['JSON null', 'null'],
    ['a Header that is not an object', '{"Header":"x","Body":""}'],
    ['a Body that is not a string', '{"Header":{},"Body":[1]}'],
  ])('rejects a value that is %s with a 400', (_, value) => {
    expect(codeOf(() => decodeRecord({ value: Buffer.from(value) }, 't'))).toBe(400);
  });

  it('rejects a tombstone (null value) with a 400', () => {
    expect(codeOf(() => decodeRecord({ value: null }, 't'))).toBe(400);
  });
});
