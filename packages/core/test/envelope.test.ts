import { describe, expect, it } from '@jest/globals';
import { type BrokerMessage, decodeEnvelope, encodeEnvelope } from '../src/index.js';
import { go, thrown, tricky } from './go-fixtures.js';

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');
const bytes = (json: string) => Buffer.from(json, 'utf8');
const binary = new Uint8Array(256).map((_, i) => i);

describe('encodeEnvelope', () => {
  it("writes go-micro's broker.Message byte for byte as Go's json.Marshal does", () => {
    expect(text(encodeEnvelope({ header: tricky, body: binary }))).toBe(go.envelope.tricky);
    expect(text(encodeEnvelope({ header: {}, body: new Uint8Array(0) }))).toBe(go.envelope.empty);
    expect(text(encodeEnvelope({ header: { 'Micro-Topic': 't' }, body: bytes('hi') }))).toBe(
      go.envelope.small,
    );
    expect(text(encodeEnvelope({ header: null, body: null } as never))).toBe(go.envelope.nil);
  });

  it('writes the envelopes the Kafka and NATS packages captured from Go', () => {
    // broker-kafka test/fixtures/envelopes.json, "escaping and binary"
    expect(
      text(
        encodeEnvelope({
          header: {
            'X-Unicode': 'héllo ✓ 😀',
            'X-Html': '<a href="x">&amp;</a>',
            'X-Control': 'tab\there\nline\u2028sep',
            B: 'second',
            A: 'first',
          },
          body: binary,
        }),
      ),
    ).toBe(
      `{"Header":{"A":"first","B":"second","X-Control":"tab\\there\\nline\\u2028sep","X-Html":"\\u003ca href=\\"x\\"\\u003e\\u0026amp;\\u003c/a\\u003e","X-Unicode":"héllo ✓ 😀"},"Body":"${Buffer.from(binary).toString('base64')}"}`,
    );
    // broker-nats test/envelope.test.ts, GO.escapes
    expect(
      text(
        encodeEnvelope({
          header: { b: '\u2028\u2029', 'X-Html': '<a href="x">&</a>', A: 'é\t\b\f\u0001' },
          body: new Uint8Array([0, 1, 2, 253, 254, 255]),
        }),
      ),
    ).toBe(
      '{"Header":{"A":"é\\t\\b\\f\\u0001","X-Html":"\\u003ca href=\\"x\\"\\u003e\\u0026\\u003c/a\\u003e","b":"\\u2028\\u2029"},"Body":"AAEC/f7/"}',
    );
  });

  it('writes only the bytes of a body that is a view into a larger buffer', () => {
    const backing = Buffer.from('xxhixx');
    const body = new Uint8Array(backing.buffer, backing.byteOffset + 2, 2);
    expect(text(encodeEnvelope({ header: {}, body }))).toBe('{"Header":{},"Body":"aGk="}');
  });

  it('refuses a header value Go could not read back, with a 400', () => {
    const message = { header: { n: 1 }, body: new Uint8Array(0) } as unknown as BrokerMessage;
    expect(thrown(() => encodeEnvelope(message))).toEqual([
      400,
      'json: Header.n is not a string (got number)',
    ]);
  });
});

describe('decodeEnvelope', () => {
  /**
   * Go's result, as a TypeScript message is written: a nil header or body has no
   * TypeScript form and reads as `{}` and an empty body.
   */
  const asDecodedHere = (goResult: string) =>
    goResult.replace('"Header":null', '"Header":{}').replace('"Body":null', '"Body":""');

  /** Where this decoder knowingly differs from Go (see decodeGoBytes, readGoFields). */
  const differences: Record<string, string> = {
    // Go also reads a JSON array of numbers as []byte; no Go writer produces one
    '{"Body":[1]}': 'refused',
    // Go merges a repeated map into the earlier one; here the later key wins
    '{"Header":{"a":"1"},"header":{"b":"2"}}': '{"Header":{"b":"2"},"Body":""}',
  };

  it.each(go.envelopeDecode.map((c) => [c.input, c] as const))(
    'reads %s as Go does',
    (input, expected) => {
      const result = thrown(() => decodeEnvelope(bytes(input)));
      const difference = differences[input];
      if (expected.error !== undefined || difference === 'refused') {
        expect(result[0]).toBe(400);
        return;
      }
      expect(result).toEqual([0, '']);
      expect(text(encodeEnvelope(decodeEnvelope(bytes(input))))).toBe(
        difference ?? asDecodedHere(expected.result!),
      );
    },
  );

  it('reads a JSON null envelope as an empty message, as Go does', () => {
    expect(decodeEnvelope(bytes('null'))).toEqual({ header: {}, body: new Uint8Array(0) });
  });

  it('says what is wrong', () => {
    const message = (input: string) => thrown(() => decodeEnvelope(bytes(input)))[1];
    expect(message('not json')).toBe(
      'envelope: message is not a go-micro broker envelope (invalid JSON)',
    );
    expect(message('[]')).toBe('envelope: message is not a go-micro broker envelope');
    expect(message('{"Header":{"a":1}}')).toBe('json: Header.a is not a string (got number)');
    expect(message('{"Header":"x"}')).toBe('json: Header is not an object (got string)');
    expect(message('{"Body":"aGk"}')).toBe('json: Body is not standard base64');
    expect(message('{"Body":5}')).toBe('json: Body is not a base64 string (got number)');
  });

  it('keeps a __proto__ header as a header', () => {
    const { header } = decodeEnvelope(bytes('{"Header":{"__proto__":"p"}}'));
    expect(Object.keys(header)).toEqual(['__proto__']);
    expect(text(encodeEnvelope({ header, body: new Uint8Array(0) }))).toBe(
      '{"Header":{"__proto__":"p"},"Body":""}',
    );
  });

  it('reads the shape Go writes the same as any other spacing of the same JSON', () => {
    // `{…,"Body":"<base64>"}` is read without parsing the body as JSON; the same
    // envelope with a space before the closing brace goes the general way.
    const outcome = (json: string) => {
      try {
        const { header, body } = decodeEnvelope(bytes(json));
        return { header, body: [...body] };
      } catch (error) {
        return { error: (error as Error).message };
      }
    };
    const cases = [
      go.envelope.tricky,
      go.envelope.small,
      '{"Header":{"Micro-Topic":"t"},"Body":""}',
      '{"Header":null,"Body":"aGk="}',
      '{"header":{"a":"1"},"Body":"aGk="}',
      '{"Header":{"a":null},"Body":"aGk="}',
      '{"Header":{"a":"\\ud800"},"Body":"aGk="}',
      '{"Header":{"Body":"aGk="},"Body":"aGk="}',
      '{"Header":{},"Bodx":"aGk="}', // not the body: another key of the same length
      '{"Header":{},"body":"aGk="}',
      '{"Header":{},"BODY":"aGk="}',
      '{"Header":{},"body":"eA==","Body":"aGk="}', // the later body wins, as in Go
      '{"Header":{},"body":5,"Body":"aGk="}',
      '{"X":[1,{"Body":"x"}],"Body":"aGk="}',
      '{"Header":{"a":1},"Body":"aGk="}', // a header Go refuses
      '{"Header":"x","Body":"aGk="}',
      '{"Header":{},"Body":"aGk"}', // a body Go refuses
      '{"Header":{},"Body":"a-k="}',
      '{"Header":{},"Body":"a\\u0047k="}', // escapes in the body
      '{"Header":{},"Body":"aGk\\u003d"}',
      '{"Header":{},"Body":"a\\nGk="}',
      '{"Header":{},"Body":"a\nGk="}', // a raw newline: not JSON
      '{"Header":{},"Body":"aG\\/="}',
      '{"Header":{},"Body":"aG\\"="}',
      '{"Header":{"x":"1"},"Body":"a\u00e9k="}',
      '{"Header":{"x":"ß"},"Body":"aGk="}',
      '{,"Body":"aGk="}', // not JSON, though `{` + `}` would be
      '{"Header":{},,"Body":"aGk="}',
      '[{"Header":{}},"Body":"aGk="}',
      '{"Header":{"a":"1"}},"Body":"aGk="}',
      '{"Header":{"a":"1","Body":"aGk="}',
      ' {"Header":{}} ,"Body":"aGk="}',
      '\ufeff{"Header":{},"Body":"aGk="}',
      '{"Header":{},"Body":"aGk="}\n',
    ];
    for (const json of cases) {
      const spaced = json.replace(/\}(\s*)$/, ' }$1');
      expect([json, outcome(json)]).toEqual([json, outcome(spaced)]);
    }
    expect(outcome('{"Header":{},"body":"eA==","Body":"aGk="}')).toEqual({
      header: {},
      body: [0x68, 0x69],
    });
    expect(outcome('{,"Body":"aGk="}').error).toMatch(/invalid JSON/);
    expect(outcome('{"Header":{"a":1},"Body":"aGk="}').error).toBe(
      'json: Header.a is not a string (got number)',
    );
  });

  it('round-trips binary bodies and escaped headers', () => {
    const message = { header: tricky, body: binary };
    const decoded = decodeEnvelope(encodeEnvelope(message));
    expect(decoded.header).toEqual(tricky);
    expect([...decoded.body]).toEqual([...binary]);
  });
});
