// What every broker benchmark process shares: the message, the headers @micro's
// client puts on a publish, and go-micro's broker envelope written and read the
// plain way (JSON.stringify / JSON.parse and Buffer base64), for the raw contenders.
import { Buffer } from 'node:buffer';
import { randomUUID } from 'node:crypto';

/** Body bytes of every message. */
export const SIZE = 1024;

/** The content type @micro's client publishes with by default. */
export const CONTENT_TYPE = 'application/json';

/**
 * The payload of a message: `{"name":"…"}`, whose JSON is exactly SIZE bytes, so
 * the Broker-level contenders (which publish BODY) and the Service-level ones
 * (which publish PAYLOAD through the JSON codec) put the same bytes on the wire.
 */
export const PAYLOAD = (() => {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const length = SIZE - '{"name":""}'.length;
  return { name: Array.from({ length }, (_, i) => alphabet[(i * 7 + (i >> 6)) % 62]).join('') };
})();

/** PAYLOAD as JSON bytes. */
export const BODY = Buffer.from(JSON.stringify(PAYLOAD));
if (BODY.length !== SIZE) throw new Error(`BODY is ${BODY.length} bytes, not ${SIZE}`);

/** A logger that drops everything: neither side pays for logging. */
export const silent = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * The header @micro's client puts on a publish (core `RpcClient.publish`, as
 * go-micro's): Content-Type, Micro-Topic and a fresh UUID in Micro-ID. The keys
 * are created in the order Go's json.Marshal sorts them, so JSON.stringify writes
 * the same bytes.
 * @param topic the topic
 */
export function publishHeader(topic) {
  return { 'Content-Type': CONTENT_TYPE, 'Micro-ID': randomUUID(), 'Micro-Topic': topic };
}

/**
 * go-micro's broker envelope `{"Header":{…},"Body":"<base64>"}` the way anyone
 * would write it with plain Node: byte for byte what @micro (and Go) write for
 * ASCII headers with sorted keys.
 * @param header message headers, keys in sorted order
 * @param body the body bytes (a Buffer)
 * @returns the envelope bytes
 */
export function writeEnvelope(header, body) {
  return Buffer.from(JSON.stringify({ Header: header, Body: body.toString('base64') }));
}

/**
 * Reads go-micro's broker envelope with JSON.parse and Buffer base64.
 * @param data the envelope bytes (Buffer or Uint8Array)
 * @returns { header, body }
 */
export function readEnvelope(data) {
  const bytes = Buffer.isBuffer(data)
    ? data
    : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const envelope = JSON.parse(bytes.toString());
  return { header: envelope.Header, body: Buffer.from(envelope.Body, 'base64') };
}

/**
 * Checks once per process that the raw envelope is @micro's, byte for byte, and
 * reads back the same: otherwise the comparison would not be fair.
 * @param core the @micro/core module
 */
export function checkEnvelopes(core) {
  const header = publishHeader('bench.check');
  const raw = writeEnvelope(header, BODY);
  const micro = Buffer.from(core.encodeEnvelope({ header, body: BODY }));
  if (!raw.equals(micro)) {
    throw new Error(`raw envelope differs from @micro's:\n${raw}\n${micro}`);
  }
  const back = readEnvelope(micro);
  const microBack = core.decodeEnvelope(raw);
  if (
    !back.body.equals(BODY) ||
    !Buffer.from(microBack.body).equals(BODY) ||
    JSON.stringify(back.header) !== JSON.stringify(microBack.header)
  ) {
    throw new Error('raw and @micro envelopes do not read back the same');
  }
}
