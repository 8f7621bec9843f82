import { codecError } from '../codec/codec.js';
import type { BrokerMessage } from './broker.js';

/**
 * go-micro's broker envelope, used on NATS and Kafka (and by the HTTP broker):
 * `{"Header":{...},"Body":"<base64>"}`. Go's `broker.Message` has no JSON tags,
 * hence the capitalised keys; `[]byte` encodes as base64.
 * @param message the message to wrap
 * @returns the envelope's JSON bytes
 */
export function encodeEnvelope(message: BrokerMessage): Uint8Array {
  const body = Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength);
  return Buffer.from(JSON.stringify({ Header: message.header, Body: body.toString('base64') }));
}

/**
 * Unwraps go-micro's broker envelope.
 * @param data the envelope's JSON bytes
 * @throws {@link MicroError} 400 (`go.micro.codec`) when the data is not an envelope
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
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw codecError('envelope', 'message is not a go-micro broker envelope', 400);
  }
  const { Header, Body } = value as { Header?: unknown; Body?: unknown };
  const header: Record<string, string> = {};
  if (Header !== undefined && Header !== null) {
    if (typeof Header !== 'object' || Array.isArray(Header)) {
      throw codecError('envelope', 'envelope Header is not an object', 400);
    }
    for (const [key, item] of Object.entries(Header)) header[key] = String(item);
  }
  if (Body !== undefined && Body !== null && typeof Body !== 'string') {
    throw codecError('envelope', 'envelope Body is not a base64 string', 400);
  }
  const body = new Uint8Array(Buffer.from(Body ?? '', 'base64'));
  return { header, body };
}
