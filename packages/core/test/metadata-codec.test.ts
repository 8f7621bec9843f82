import { describe, expect, it } from '@jest/globals';
import {
  bytesCodec,
  Codecs,
  decodeEnvelope,
  encodeEnvelope,
  getHeader,
  isMicroError,
  jsonCodec,
  Metadata,
} from '../src/index.js';

describe('Metadata', () => {
  it('matches keys case-insensitively and keeps their first case', () => {
    const md = new Metadata({ 'Micro-Id': '1' });
    md.set('x-tenant', 'a').set('X-Tenant', 'b');
    expect(md.get('MICRO-ID')).toBe('1');
    expect(md.toJSON()).toEqual({ 'Micro-Id': '1', 'x-tenant': 'b' });
    expect(md.delete('X-TENANT')).toBe(true);
    expect([...md]).toEqual([['Micro-Id', '1']]);
  });

  it('reads plain header maps case-insensitively', () => {
    expect(getHeader({ 'micro-error': 'EOS' }, 'Micro-Error')).toBe('EOS');
    expect(getHeader({ 'Micro-Error': 'x' }, 'Micro-Error')).toBe('x');
    expect(getHeader({}, 'Micro-Error')).toBeUndefined();
  });
});

describe('codecs', () => {
  it("reads Go's JSON with its trailing newline and writes none", () => {
    expect(jsonCodec.unmarshal(Buffer.from('{"msg":"Hello John"}\n'))).toEqual({
      msg: 'Hello John',
    });
    expect(Buffer.from(jsonCodec.marshal({ msg: 'x' })).toString()).toBe('{"msg":"x"}');
  });

  it('fails to encode a value JSON cannot hold with a 500 codec error', () => {
    let caught: unknown;
    try {
      jsonCodec.marshal({ big: 10n });
    } catch (error) {
      caught = error;
    }
    expect(isMicroError(caught) && [caught.id, caught.code]).toEqual(['go.micro.codec', 500]);
  });

  it('passes bytes through the bytes codec untouched', () => {
    const bytes = new Uint8Array([0, 255, 7]);
    expect(bytesCodec.marshal(bytes)).toBe(bytes);
    expect([...(bytesCodec.unmarshal(bytes) as Uint8Array)]).toEqual([0, 255, 7]);
    expect(() => bytesCodec.marshal({ not: 'bytes' })).toThrow(/Uint8Array/);
  });

  it('looks codecs up by content type, ignoring parameters and case, and names the supported ones', () => {
    const codecs = new Codecs([jsonCodec, bytesCodec]);
    expect(codecs.require('Application/JSON; charset=utf-8')).toBe(jsonCodec);
    let caught: unknown;
    try {
      codecs.require('application/x-yaml');
    } catch (error) {
      caught = error;
    }
    expect(isMicroError(caught) && caught.code).toBe(415);
    expect((caught as Error).message).toContain('application/json, application/octet-stream');
  });
});

describe('broker envelope', () => {
  it("writes go-micro's envelope: capitalised keys and a base64 body", () => {
    const bytes = encodeEnvelope({ header: { 'Micro-Topic': 'x' }, body: Buffer.from('hi') });
    expect(Buffer.from(bytes).toString()).toBe('{"Header":{"Micro-Topic":"x"},"Body":"aGk="}');
    const decoded = decodeEnvelope(bytes);
    expect(decoded.header).toEqual({ 'Micro-Topic': 'x' });
    expect(Buffer.from(decoded.body).toString()).toBe('hi');
  });

  it('rejects what is not an envelope with a 400 codec error', () => {
    for (const bad of ['not json', '[1,2]', '{"Header":"x"}', '{"Body":5}']) {
      let caught: unknown;
      try {
        decodeEnvelope(Buffer.from(bad));
      } catch (error) {
        caught = error;
      }
      expect(isMicroError(caught) && caught.code).toBe(400);
    }
  });

  it('accepts a Go envelope with null header and body', () => {
    const decoded = decodeEnvelope(Buffer.from('{"Header":null,"Body":null}'));
    expect(decoded.header).toEqual({});
    expect(decoded.body.byteLength).toBe(0);
  });
});

describe('zlib-hex registry encoding', () => {
  it("round-trips go-micro's hex(zlib(json)) and refuses a record that inflates too far", async () => {
    const { decodeZlibHex, encodeZlibHex } = await import('../src/index.js');
    const json = '{"Metadata":{"a":"b"},"Service":"x","Version":"v1","Endpoints":[]}';
    const encoded = encodeZlibHex(json);
    expect(encoded).toMatch(/^789c[0-9a-f]+$/);
    expect(decodeZlibHex(encoded)).toBe(json);
    const bomb = encodeZlibHex('x'.repeat(2 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(10_000);
    expect(() => decodeZlibHex(bomb)).toThrow();
    expect(() => decodeZlibHex('zz')).toThrow(/hex/);
  });
});
