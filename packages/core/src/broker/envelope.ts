import { codecError } from '../codec/codec.js';
import {
  decodeGoBytes,
  decodeGoStringMap,
  encodeGoStringMap,
  readGoFields,
} from '../codec/go-json.js';
import type { BrokerMessage } from './broker.js';

const ENVELOPE_FIELDS = ['Header', 'Body'] as const;

/**
 * go-micro's broker envelope, used on NATS and Kafka (and by the HTTP broker):
 * the JSON of Go's `broker.Message`, byte for byte as `json.Marshal` writes it:
 * `{"Header":{...},"Body":"<base64>"}`. `Message` has no JSON tags, hence the
 * capitalised keys; header keys are sorted by their UTF-8 bytes, strings escaped
 * as Go escapes them (`<` as `\u003c`, …), `[]byte` written as standard base64, and
 * a nil (null or undefined) header or body as `null`.
 * @param message the message to wrap
 * @returns the envelope's JSON bytes
 * @throws {@link MicroError} 400 (`go.micro.codec`) when a header value is not a string
 * @example
 * encodeEnvelope({ header: { 'Micro-Topic': 't', 'Content-Type': 'text/plain' }, body: Buffer.from('hi') });
 * // {"Header":{"Content-Type":"text/plain","Micro-Topic":"t"},"Body":"aGk="}
 */
export function encodeEnvelope(message: BrokerMessage): Uint8Array {
  const header = `{"Header":${encodeGoStringMap(message.header, 'Header')},"Body":`;
  const { body } = message;
  if (body === null || body === undefined) return Buffer.from(`${header}null}`);
  const base64 = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('base64');
  // The body is most of the bytes and pure ASCII: copy it once, as latin1.
  const headerLength = Buffer.byteLength(header);
  const out = Buffer.allocUnsafe(headerLength + base64.length + 3);
  out.write(header, 0, 'utf8');
  out[headerLength] = 0x22; // "
  out.write(base64, headerLength + 1, 'latin1');
  out.write('"}', headerLength + 1 + base64.length, 'latin1');
  return out;
}

/**
 * Unwraps go-micro's broker envelope as Go's `json.Unmarshal` reads it into a
 * `broker.Message`: `Header` and `Body` match in any case (`header`, `BODY`),
 * unknown keys are ignored, a JSON `null` envelope, header or body reads as empty,
 * a `null` header value as `""`. What Go refuses is refused: a header value that is
 * not a string, a body that is not standard padded base64.
 * @param data the envelope's JSON bytes
 * @returns the message; the header is `{}` and the body empty when the envelope has none
 * @throws {@link MicroError} 400 (`go.micro.codec`) when the data is not an envelope
 * @example
 * decodeEnvelope(Buffer.from('{"header":{"Micro-Topic":"t"},"body":"aGk="}'));
 * // { header: { 'Micro-Topic': 't' }, body: <68 69> }
 */
export function decodeEnvelope(data: Uint8Array): BrokerMessage {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch (error) {
    throw codecError(
      'envelope',
      'message is not a go-micro broker envelope (invalid JSON)',
      400,
      error,
    );
  }
  if (value !== null && (typeof value !== 'object' || Array.isArray(value))) {
    throw codecError('envelope', 'message is not a go-micro broker envelope', 400);
  }
  const fields = readGoFields(value, 'envelope', ENVELOPE_FIELDS);
  return {
    header: decodeGoStringMap(fields?.Header, 'Header') ?? {},
    body: decodeGoBytes(fields?.Body, 'Body') ?? new Uint8Array(0),
  };
}
