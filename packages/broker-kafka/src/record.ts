/**
 * go-micro's Kafka record layout (micro/plugins `v4/broker/kafka/kafka.go` and
 * `options.go`): the record value is the broker envelope
 * `{"Header":{...},"Body":"<base64>"}`, with no key and no Kafka headers.
 */
import {
  type BrokerMessage,
  codecError,
  decodeEnvelope,
  encodeEnvelope,
  type Header,
  readGoFields,
} from '@micro/core';
import type { IHeaders } from 'kafkajs';

/** What the consumer fills in when a record's envelope lacks it, as go-micro does. */
export const DEFAULT_CONTENT_TYPE = 'application/json';

/**
 * The value of the Kafka record go-micro's Kafka broker writes for a message: the
 * envelope exactly as Go's `json.Marshal` writes `broker.Message`, byte for byte
 * (core's {@link encodeEnvelope}): header keys sorted as Go sorts map keys, and `<`,
 * `>`, `&`, U+2028 and U+2029 escaped as `\u003c`-style sequences.
 * @param message the message to publish
 * @returns the record value (the envelope's JSON bytes)
 * @throws {@link MicroError} 400 when a header value is not a string
 * @example
 * encodeRecord({ header: { 'Micro-Topic': 'orders', 'Content-Type': 'text/plain' }, body: Buffer.from('hi') })
 *   .toString(); // '{"Header":{"Content-Type":"text/plain","Micro-Topic":"orders"},"Body":"aGk="}'
 */
export function encodeRecord(message: BrokerMessage): Buffer {
  const bytes = encodeEnvelope(message);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A consumed record, as kafkajs hands it over. */
export interface ConsumedRecord {
  value: Buffer | null;
  headers?: IHeaders;
}

function headerValue(value: IHeaders[string]): string | undefined {
  if (value === undefined) return undefined;
  // A key that repeats: the last one wins, as go-micro's loop over the headers does.
  const last = Array.isArray(value) ? value[value.length - 1] : value;
  if (last === undefined) return undefined;
  return typeof last === 'string' ? last : last.toString('utf8');
}

const ENVELOPE_FIELDS = ['Header', 'Body'] as const;

/**
 * What a value whose envelope decoded empty really is: JSON `null` (refused here),
 * a plain JSON object with no key Go would read as `Header` or `Body` (go-micro
 * then delivers the whole value as the body), or an envelope that is empty.
 */
function emptyEnvelopeKind(value: Buffer): 'null' | 'plain' | 'envelope' {
  // decodeEnvelope has parsed it already, so this cannot throw
  const parsed: unknown = JSON.parse(value.toString('utf8'));
  if (parsed === null) return 'null';
  const fields = readGoFields(parsed, 'record', ENVELOPE_FIELDS)!;
  return fields.Header === undefined && fields.Body === undefined ? 'plain' : 'envelope';
}

/**
 * Turns a consumed record into the message a subscriber sees, as go-micro's Kafka
 * consumer does:
 * - the value is the envelope; its `Header` and `Body` become the message;
 * - Kafka record headers (written by non-go-micro producers) are added to the
 *   header, replacing envelope keys of the same name;
 * - `Micro-Topic` is set to the record's topic, and `Content-Type` defaults to
 *   `application/json`;
 * - a JSON object with neither `Header` nor `Body` (a plain JSON record from a
 *   non-go-micro producer) is delivered whole as the body.
 * @param record the consumed record
 * @param topic the record's topic
 * @returns the message
 * @throws {@link MicroError} 400 (`go.micro.codec`) when the value is not an envelope
 *   (not JSON, not an object, or `Header`/`Body` of the wrong type) or is null
 * @example
 * decodeRecord({ value: Buffer.from('{"Header":{},"Body":"aGk="}') }, 'orders');
 * // { header: { 'Micro-Topic': 'orders', 'Content-Type': 'application/json' }, body: <68 69> }
 */
export function decodeRecord(record: ConsumedRecord, topic: string): BrokerMessage {
  const { value } = record;
  if (value === null) {
    throw codecError('envelope', 'record has no value (a tombstone), not a go-micro envelope', 400);
  }
  const envelope = decodeEnvelope(value);
  let { body } = envelope;
  const header: Header = envelope.header;
  if (body.length === 0 && Object.keys(header).length === 0) {
    const kind = emptyEnvelopeKind(value);
    if (kind === 'null') {
      throw codecError('envelope', 'record value is JSON null, not a go-micro envelope', 400);
    }
    // A copy: the value is a view into kafkajs's whole fetch response.
    if (kind === 'plain') body = new Uint8Array(value);
  }
  if (record.headers) {
    for (const [key, raw] of Object.entries(record.headers)) {
      const text = headerValue(raw);
      if (text !== undefined) header[key] = text;
    }
  }
  header['Micro-Topic'] = topic;
  if (header['Content-Type'] === undefined) header['Content-Type'] = DEFAULT_CONTENT_TYPE;
  return { header, body };
}
