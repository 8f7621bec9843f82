import { type BrokerMessage, badRequest, ErrorIds, encodeEnvelope, type Header } from '@micro/core';

// Go's encoding/json (which go-micro's broker/nats marshals broker.Message with)
// escapes these inside strings; JSON.stringify does not. They can only occur
// inside strings of the envelope, never in its structure or in the base64 body.
const GO_ESCAPES: Readonly<Record<string, string>> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};
const GO_ESCAPED = /[<>&\u2028\u2029]/;
const GO_ESCAPED_ALL = /[<>&\u2028\u2029]/g;

/** Go compares map keys as UTF-8 bytes, which is code point order, not UTF-16 order. */
function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

/**
 * Returns the header with its keys in Go's map-key order (sorted), the same object
 * when it already is, so the common case allocates nothing.
 */
function goOrder(header: Header): Header {
  const keys = Object.keys(header);
  let sorted = true;
  for (let i = 1; i < keys.length; i++) {
    if (compareCodePoints(keys[i - 1]!, keys[i]!) > 0) {
      sorted = false;
      break;
    }
  }
  if (sorted) return header;
  const ordered: Record<string, string> = {};
  for (const key of keys.sort(compareCodePoints)) ordered[key] = header[key]!;
  return ordered;
}

function needsGoEscapes(header: Header): boolean {
  for (const key in header) {
    if (GO_ESCAPED.test(key) || GO_ESCAPED.test(header[key]!)) return true;
  }
  return false;
}

/**
 * Encodes a message as go-micro's NATS payload: the JSON of Go's `broker.Message`,
 * `{"Header":{…},"Body":"<base64>"}`, byte for byte as Go's `json.Marshal` writes
 * it: header keys sorted, and `<`, `>`, `&`, U+2028 and U+2029 escaped as `\u003c`….
 * Built on core's {@link encodeEnvelope}.
 *
 * One difference is left: a JavaScript object keeps integer-like keys (`"10"`) first,
 * so a header with such keys is not in Go's order. Go decodes it the same either way.
 *
 * @param message the message to publish
 * @returns the payload bytes
 * @example
 * encodeMessage({ header: { 'Micro-Topic': 'events' }, body: Buffer.from('hi') });
 * // {"Header":{"Micro-Topic":"events"},"Body":"aGk="}
 */
export function encodeMessage(message: BrokerMessage): Uint8Array {
  const header = goOrder(message.header);
  const bytes = encodeEnvelope(
    header === message.header ? message : { header, body: message.body },
  );
  if (!needsGoEscapes(header)) return bytes;
  const json = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  return Buffer.from(json.replace(GO_ESCAPED_ALL, (c) => GO_ESCAPES[c]!));
}

/** Whitespace and control characters split a NATS protocol line, so they never belong in a subject. */
function hasBreaker(text: string): boolean {
  if (/\s/.test(text)) return true;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/**
 * Checks that a topic is a valid NATS subject. go-micro passes topics to NATS as
 * they are; a space would silently turn `PUB a b` into a publish with a reply
 * subject, and `SUB a b` into a queue group, so such topics are refused here.
 * @param topic the topic
 * @param wildcards whether `*` and `>` tokens are allowed (subscribe: yes, publish: no)
 * @throws {@link MicroError} 400 for an empty topic, whitespace, an empty token or a
 *   misplaced wildcard
 */
export function checkTopic(topic: string, wildcards: boolean): void {
  const fail = (why: string): never => {
    throw badRequest(ErrorIds.broker, `nats: invalid topic ${JSON.stringify(topic)}: ${why}`);
  };
  if (typeof topic !== 'string' || topic.length === 0) fail('it is empty');
  if (hasBreaker(topic)) fail('NATS subjects cannot contain whitespace');
  const tokens = topic.split('.');
  tokens.forEach((token, i) => {
    if (token.length === 0) fail('it has an empty token (a leading, trailing or double dot)');
    if (token === '*' || token === '>') {
      if (!wildcards) fail(`a published subject cannot contain the wildcard ${token}`);
      if (token === '>' && i !== tokens.length - 1) fail('> must be the last token');
    }
  });
}

/**
 * Checks a queue group name.
 * @param queue the name
 * @throws {@link MicroError} 400 when it contains whitespace
 */
export function checkQueue(queue: string): void {
  if (typeof queue !== 'string' || hasBreaker(queue)) {
    throw badRequest(
      ErrorIds.broker,
      `nats: invalid queue ${JSON.stringify(queue)}: NATS queue groups cannot contain whitespace`,
    );
  }
}
