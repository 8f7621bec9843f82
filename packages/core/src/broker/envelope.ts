import { codecError } from '../codec/codec.js';
import {
  decodeGoBytes,
  decodeGoStringMap,
  decodeStdBase64,
  encodeGoStringMap,
  isJsonObject,
  readGoFields,
} from '../codec/go-json.js';
import type { BrokerMessage } from './broker.js';

const ENVELOPE_FIELDS = ['Header', 'Body'] as const;

/** What comes right before the body's opening quote in the envelope every Go writer writes. */
const BODY_KEY = Buffer.from(',"Body":', 'latin1');

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
 * @returns the message; the header is `{}` and the body empty when the envelope has none.
 *   A small body may share its `ArrayBuffer` with other buffers (Node's pool, as
 *   `Buffer.from` does): read it through `byteOffset` and `byteLength`.
 * @throws {@link MicroError} 400 (`go.micro.codec`) when the data is not an envelope
 * @example
 * decodeEnvelope(Buffer.from('{"header":{"Micro-Topic":"t"},"body":"aGk="}'));
 * // { header: { 'Micro-Topic': 't' }, body: <68 69> }
 */
export function decodeEnvelope(data: Uint8Array): BrokerMessage {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const common = decodeCommonEnvelope(bytes);
  if (common !== undefined) return common;
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
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

/** JSON's whitespace: space, tab, line feed, carriage return. */
function isJsonSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}

/**
 * The envelope as go-micro writes it, read without running the body through
 * JSON.parse: `{…,"Body":"<base64>"}`, the body last. The members before the body
 * are parsed as an object of their own and the body is decoded straight from the
 * bytes, which halves the cost of a 1 KiB message.
 *
 * Anything else (other spacing, an escape or a character that is not base64 in the
 * body, no member before the body, a `null` body) returns undefined and is read the
 * general way, so what is accepted, refused and reported is the same. When the rest
 * also has a key Go reads as `Body`, the body written last wins, as in Go; a header
 * that Go refuses throws here the same error.
 */
function decodeCommonEnvelope(bytes: Buffer): BrokerMessage | undefined {
  let end = bytes.length;
  while (end > 0 && isJsonSpace(bytes[end - 1]!)) end--;
  // `"}`: the body's closing quote and the envelope's closing brace
  if (bytes[end - 1] !== 0x7d || bytes[end - 2] !== 0x22) return undefined;
  // base64 has no quote: the last one before the closing quote opens the body
  const open = bytes.lastIndexOf(0x22, end - 3);
  const key = open - BODY_KEY.length;
  if (key < 1) return undefined;
  for (let i = 0; i < BODY_KEY.length; i++) {
    if (bytes[key + i] !== BODY_KEY[i]) return undefined;
  }
  let rest: unknown;
  try {
    rest = JSON.parse(`${bytes.toString('utf8', 0, key)}}`);
  } catch {
    return undefined;
  }
  // `{` alone before `,"Body"` would parse as `{}` but the envelope is not JSON.
  if (!isJsonObject(rest) || Object.keys(rest).length === 0) return undefined;
  const body = decodeStdBase64(bytes.toString('latin1', open + 1, end - 2));
  if (body === null) return undefined;
  const fields = readGoFields(rest, 'envelope', ENVELOPE_FIELDS)!;
  return { header: decodeGoStringMap(fields.Header, 'Header') ?? {}, body };
}
