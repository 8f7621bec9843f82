import { describe, expect, it } from '@jest/globals';
import { decodeEnvelope, isMicroError } from '@micro/core';
import { checkQueue, checkTopic, encodeMessage } from '../src/index.js';

const json = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

// Golden bytes: the output of Go 1.26 `json.Marshal(&m)` for a struct with go-micro's
// broker.Message layout (`Header map[string]string; Body []byte`, no json tags),
// which is what go-micro's broker/nats publishes through its json.Marshaler codec.
const GO = {
  event:
    '{"Header":{"Content-Type":"application/json","Micro-ID":"7a3e0c1e-4b0b-4d7a-9f0e-0d7c2a1b9c11","Micro-Topic":"greeter.events"},"Body":"eyJuYW1lIjoiQWRhIn0K"}',
  escapes:
    '{"Header":{"A":"é\\t\\b\\f\\u0001","X-Html":"\\u003ca href=\\"x\\"\\u003e\\u0026\\u003c/a\\u003e","b":"\\u2028\\u2029"},"Body":"AAEC/f7/"}',
  empty: '{"Header":{},"Body":""}',
  nil: '{"Header":null,"Body":null}',
};

describe('encodeMessage (go-micro broker/nats payload)', () => {
  it('writes the bytes Go writes for a go-micro event, whatever the header order', () => {
    const bytes = encodeMessage({
      header: {
        'Micro-Topic': 'greeter.events',
        'Content-Type': 'application/json',
        'Micro-ID': '7a3e0c1e-4b0b-4d7a-9f0e-0d7c2a1b9c11',
      },
      body: Buffer.from('{"name":"Ada"}\n'),
    });
    expect(json(bytes)).toBe(GO.event);
  });

  it('escapes <, >, &, U+2028 and U+2029 and sorts keys by code point as Go does', () => {
    const bytes = encodeMessage({
      header: { b: '\u2028\u2029', 'X-Html': '<a href="x">&</a>', A: 'é\t\b\f\u0001' },
      body: new Uint8Array([0, 1, 2, 253, 254, 255]),
    });
    expect(json(bytes)).toBe(GO.escapes);
  });

  it('writes an empty header and body as Go writes empty ones', () => {
    expect(json(encodeMessage({ header: {}, body: new Uint8Array(0) }))).toBe(GO.empty);
  });

  it('orders keys beyond the BMP after U+FFFF, as UTF-8 bytes sort', () => {
    // UTF-16 order would put "\u{1F600}" (a surrogate pair, 0xD83D…) before "\uFFFD"
    const bytes = encodeMessage({
      header: { '\u{1F600}': 'a', '\uFFFD': 'b' },
      body: new Uint8Array(0),
    });
    expect(json(bytes)).toBe('{"Header":{"\uFFFD":"b","\u{1F600}":"a"},"Body":""}');
  });

  it('orders integer-like keys as Go does, not first as a JavaScript object would', () => {
    const bytes = encodeMessage({
      header: { A: 'x', '9': 'a', '10': 'b' },
      body: new Uint8Array(0),
    });
    expect(json(bytes)).toBe('{"Header":{"10":"b","9":"a","A":"x"},"Body":""}');
  });

  it('round-trips through core decodeEnvelope, escapes and binary included', () => {
    const message = {
      header: { 'X-Html': '<&>', 'Micro-Topic': 't' },
      body: new Uint8Array(256).map((_, i) => i),
    };
    const decoded = decodeEnvelope(encodeMessage(message));
    expect(decoded.header).toEqual(message.header);
    expect([...decoded.body]).toEqual([...message.body]);
  });

  it('decodes what Go writes, null header and body included', () => {
    const event = decodeEnvelope(Buffer.from(GO.event));
    expect(event.header['Micro-Topic']).toBe('greeter.events');
    expect(json(event.body)).toBe('{"name":"Ada"}\n');
    const escaped = decodeEnvelope(Buffer.from(GO.escapes));
    expect(escaped.header['X-Html']).toBe('<a href="x">&</a>');
    expect(escaped.header.b).toBe('\u2028\u2029');
    const nil = decodeEnvelope(Buffer.from(GO.nil));
    expect(nil).toEqual({ header: {}, body: new Uint8Array(0) });
  });

  it('refuses a payload that is not an envelope with a 400', () => {
    for (const bad of ['plain text', '[1,2]', '{"Header":"x"}', '{"Body":5}']) {
      let error: unknown;
      try {
        decodeEnvelope(Buffer.from(bad));
      } catch (caught) {
        error = caught;
      }
      expect([bad, isMicroError(error) && error.code]).toEqual([bad, 400]);
    }
  });
});

describe('checkTopic / checkQueue', () => {
  const code = (fn: () => void) => {
    try {
      fn();
      return 'ok';
    } catch (error) {
      return isMicroError(error) ? error.code : 'not a MicroError';
    }
  };

  it('accepts go-micro topics', () => {
    for (const topic of ['greeter', 'go.micro.topic.events', 'a-b_c:d', 'ünïcode']) {
      expect([topic, code(() => checkTopic(topic, false))]).toEqual([topic, 'ok']);
    }
  });

  it('refuses topics that break the NATS protocol line or have empty tokens', () => {
    for (const topic of ['', 'a b', 'a\tb', 'a\r\nb', 'a\u0000b', '.a', 'a.', 'a..b']) {
      expect([topic, code(() => checkTopic(topic, true))]).toEqual([topic, 400]);
    }
  });

  it('allows wildcards when subscribing only', () => {
    expect(code(() => checkTopic('orders.*.created', true))).toBe('ok');
    expect(code(() => checkTopic('orders.>', true))).toBe('ok');
    expect(code(() => checkTopic('orders.*', false))).toBe(400);
    expect(code(() => checkTopic('orders.>', false))).toBe(400);
    expect(code(() => checkTopic('orders.>.x', true))).toBe(400);
    // a * inside a token is an ordinary character in NATS
    expect(code(() => checkTopic('orders.a*b', false))).toBe('ok');
  });

  it('refuses a queue name with whitespace', () => {
    expect(code(() => checkQueue('workers'))).toBe('ok');
    expect(code(() => checkQueue('my workers'))).toBe(400);
  });
});
