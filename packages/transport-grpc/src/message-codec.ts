/**
 * The protobuf encoding of go-micro's `go.micro.transport.grpc.Message`
 * (`map<string, string> header = 1; bytes body = 2;`, see proto/transport.proto),
 * written by hand: two fields do not need a reflection-based protobuf library, and
 * this sits on the hot path of every message.
 */
import { type Header, type Message, setHeaderEntry } from '@micro/core';

/** Field 1 (`header`), wire type 2; also the key field inside a map entry. */
const TAG_FIELD_1 = 0x0a;
/** Field 2 (`body`), wire type 2; also the value field inside a map entry. */
const TAG_FIELD_2 = 0x12;

const EMPTY = new Uint8Array(0);

function varintSize(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  return 5;
}

function writeVarint(buffer: Buffer, offset: number, value: number): number {
  while (value >= 0x80) {
    buffer[offset++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  buffer[offset++] = value;
  return offset;
}

/** A message whose header and body are sized, ready to be written. */
export interface SizedMessage {
  /** The encoded size of all header entries, in bytes. */
  headerBytes: number;
  /** The total encoded size, in bytes. */
  size: number;
}

/**
 * Sizes a message as {@link encodeMessage} will write it.
 * @param header the transport headers
 * @param body the body
 * @returns the header's and the whole message's encoded size
 */
export function sizeMessage(header: Header, body: Uint8Array): SizedMessage {
  let headerBytes = 0;
  for (const key in header) {
    const keyLength = Buffer.byteLength(key);
    const valueLength = Buffer.byteLength(String(header[key]));
    const entry = 2 + varintSize(keyLength) + keyLength + varintSize(valueLength) + valueLength;
    headerBytes += 1 + varintSize(entry) + entry;
  }
  const bodyLength = body.byteLength;
  const size = headerBytes + (bodyLength > 0 ? 1 + varintSize(bodyLength) + bodyLength : 0);
  return { headerBytes, size };
}

/**
 * Encodes a transport message as go-micro's protobuf `Message`, byte for byte as
 * Go's protobuf runtime writes it: header entries first (each map entry with both
 * its key and its value, even when empty), then the body, left out when empty
 * (proto3 omits an empty `bytes` field).
 * @param header the transport headers
 * @param body the body
 * @param sized the result of {@link sizeMessage} for the same message, when already computed
 * @returns the encoded message
 * @example encodeMessage({ a: 'b' }, Buffer.from('x')) // <0a 06 0a 01 61 12 01 62 12 01 78>
 */
export function encodeMessage(
  header: Header,
  body: Uint8Array,
  sized: SizedMessage = sizeMessage(header, body),
): Buffer {
  const buffer = Buffer.allocUnsafe(sized.size);
  let offset = 0;
  for (const key in header) {
    const value = String(header[key]);
    const keyLength = Buffer.byteLength(key);
    const valueLength = Buffer.byteLength(value);
    const entry = 2 + varintSize(keyLength) + keyLength + varintSize(valueLength) + valueLength;
    buffer[offset++] = TAG_FIELD_1;
    offset = writeVarint(buffer, offset, entry);
    buffer[offset++] = TAG_FIELD_1;
    offset = writeVarint(buffer, offset, keyLength);
    offset += buffer.write(key, offset, keyLength, 'utf8');
    buffer[offset++] = TAG_FIELD_2;
    offset = writeVarint(buffer, offset, valueLength);
    offset += buffer.write(value, offset, valueLength, 'utf8');
  }
  const bodyLength = body.byteLength;
  if (bodyLength > 0) {
    buffer[offset++] = TAG_FIELD_2;
    offset = writeVarint(buffer, offset, bodyLength);
    buffer.set(body, offset);
  }
  return buffer;
}

/** Why a received message could not be decoded. */
export class MessageDecodeError extends Error {
  /** @param detail what is wrong with the bytes */
  constructor(detail: string) {
    super(`malformed go.micro.transport.grpc.Message: ${detail}`);
    this.name = 'MessageDecodeError';
  }
}

/** A cursor over one protobuf-encoded buffer. */
class Reader {
  offset: number;

  constructor(
    readonly buffer: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.offset = start;
  }

  /** Reads a varint used as a tag or a length: at most 2^32 - 1. */
  varint(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (this.offset >= this.end) throw new MessageDecodeError('truncated varint');
      const byte = this.buffer[this.offset++]!;
      result += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) {
        if (result > 0xffffffff) break;
        return result;
      }
    }
    throw new MessageDecodeError('varint out of range');
  }

  /** Steps over a varint of any size (an unknown int64 field, for example). */
  skipVarint(): void {
    for (let i = 0; i < 10; i++) {
      if (this.offset >= this.end) throw new MessageDecodeError('truncated varint');
      if (this.buffer[this.offset++]! < 0x80) return;
    }
    throw new MessageDecodeError('varint longer than 10 bytes');
  }

  /** Reads a length prefix and returns the end of the bytes it covers. */
  length(): number {
    const length = this.varint();
    const end = this.offset + length;
    if (end > this.end) throw new MessageDecodeError('length beyond the end of the message');
    return end;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.skipVarint();
        return;
      case 1:
        this.offset += 8;
        break;
      case 2:
        this.offset = this.length();
        return;
      case 5:
        this.offset += 4;
        break;
      default:
        throw new MessageDecodeError(`unsupported wire type ${wireType}`);
    }
    if (this.offset > this.end) throw new MessageDecodeError('truncated fixed-width field');
  }
}

function decodeEntry(reader: Reader, end: number, header: Header): void {
  const buffer = reader.buffer;
  let key = '';
  let value = '';
  while (reader.offset < end) {
    const tag = reader.varint();
    if (tag === TAG_FIELD_1) {
      const stop = reader.length();
      key = buffer.toString('utf8', reader.offset, stop);
      reader.offset = stop;
    } else if (tag === TAG_FIELD_2) {
      const stop = reader.length();
      value = buffer.toString('utf8', reader.offset, stop);
      reader.offset = stop;
    } else {
      reader.skip(tag & 7);
    }
  }
  if (reader.offset !== end) throw new MessageDecodeError('map entry overruns its length');
  setHeaderEntry(header, key, value);
}

/**
 * Decodes go-micro's protobuf `Message`. Unknown fields are skipped, a repeated
 * key or body keeps the last one (protobuf's rules), and the body is a view of
 * `buffer`, not a copy.
 * @param buffer one received gRPC message
 * @returns the transport message
 * @throws {@link MessageDecodeError} when the bytes are not a valid `Message`
 * @example decodeMessage(Buffer.from('0a060a0161120162120178', 'hex')) // { header: { a: 'b' }, body: <78> }
 */
export function decodeMessage(buffer: Buffer): Message {
  const header: Header = {};
  let body: Uint8Array = EMPTY;
  const reader = new Reader(buffer, 0, buffer.length);
  while (reader.offset < reader.end) {
    const tag = reader.varint();
    if (tag === TAG_FIELD_1) {
      const end = reader.length();
      decodeEntry(reader, end, header);
    } else if (tag === TAG_FIELD_2) {
      const end = reader.length();
      body = buffer.subarray(reader.offset, end);
      reader.offset = end;
    } else if (tag >>> 3 === 0) {
      throw new MessageDecodeError('field number 0');
    } else {
      reader.skip(tag & 7);
    }
  }
  return { header, body };
}
