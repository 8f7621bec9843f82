/**
 * The wire format of @micro/transport-tcp: length-prefixed binary frames, many
 * streams multiplexed over one connection. The README documents it byte by byte.
 *
 * ```
 * frame   = length:u32  stream:u32  type:u8  flags:u8  headerLength:u32  headerBlock  body
 * header  = count:u16  count × (keyLength:u16  valueLength:u32  key  value)
 * ```
 * Every integer is big-endian. `length` counts the bytes after itself, so a frame
 * occupies `4 + length` bytes and `length >= 10`.
 */
import { isUtf8 } from 'node:buffer';
import { type Header, setHeaderEntry } from '@micro/core';

/** Bytes before the header block: length, stream id, type, flags, header block length. */
export const PREFIX_SIZE = 14;
/** The part of the prefix that `length` counts: stream id, type, flags, header block length. */
export const FIXED_PAYLOAD = 10;
/** The protocol version carried in SETTINGS. */
export const PROTOCOL_VERSION = 1;

/** Frame types. */
export const FrameType = {
  /** Connection settings; stream 0; the first frame in each direction. */
  Settings: 0,
  /** One message of a stream; the first DATA of an unused stream id opens the stream. */
  Data: 1,
  /** The sender will send nothing more on this stream. */
  Close: 2,
  /** Aborts a stream; the body is go-micro's error JSON. */
  Reset: 3,
  /** Grants the peer more send window on a stream; the body is a u32 byte count. */
  Window: 4,
} as const;

/** Flag bits of the flags byte. */
export const FrameFlags = {
  /** On DATA: the sender closes the stream after this message (a DATA and a CLOSE in one frame). */
  End: 0x01,
} as const;

/** A frame type number. */
export type FrameTypeValue = (typeof FrameType)[keyof typeof FrameType];

/** A frame that breaks the protocol: the connection that carried it cannot be trusted. */
export class ProtocolError extends Error {
  /**
   * @param message what was wrong
   * @param code 400 for malformed framing, 413 for a frame over the limits
   * @param streamId the stream the frame belonged to, when it could be read
   */
  constructor(
    message: string,
    readonly code: 400 | 413 = 400,
    readonly streamId = 0,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** Room reserved for a header block before measuring it. */
const HEADER_RESERVE = 2048;
const RETRY = -2;

/**
 * An upper bound of a header block's size; -1 when it certainly exceeds
 * `maxHeaderSize` (every character takes at least a byte) or has too many entries.
 */
function headerBound(header: Header, maxHeaderSize: number): number {
  let count = 0;
  let chars = 0;
  for (const key in header) {
    const value = header[key];
    if (value === undefined) continue;
    count++;
    chars += key.length + String(value).length;
  }
  if (count > 0xffff || 2 + 6 * count + chars > maxHeaderSize) return -1;
  return 2 + 6 * count + 3 * chars;
}

/** Bodies up to this size are copied next to their frame prefix; larger ones are written as they are. */
export const COPY_THRESHOLD = 2048;
const SLAB_SIZE = 64 * 1024;

/**
 * Encodes frames into large slabs so that the frames of one tick end up contiguous
 * and leave in one write; bodies above {@link COPY_THRESHOLD} are not copied but
 * queued as their own chunk after their prefix (a writev).
 */
export class FrameWriter {
  #slab: Buffer = Buffer.allocUnsafeSlow(SLAB_SIZE);
  #offset = 0;
  #runStart = 0;
  #chunks: Uint8Array[] = [];
  /** Bytes encoded and not yet taken by {@link take}. */
  bytes = 0;
  /** Counts takes: a frame encoded in the current generation has not been handed to the socket yet. */
  generation = 0;
  /** The flags byte of the last frame {@link writeMessage} encoded: its buffer and offset. */
  lastFlagsBuffer: Buffer = this.#slab;
  lastFlagsAt = 0;

  /**
   * Sets flag bits on a frame that has not been taken yet.
   * @returns false when the frame has already been taken (written)
   */
  setFlags(buffer: Buffer, at: number, generation: number, flags: number): boolean {
    if (generation !== this.generation) return false;
    buffer[at]! |= flags;
    return true;
  }

  /** @returns the chunks to write, in order; the writer starts empty again */
  take(): Uint8Array[] {
    this.#cut();
    const chunks = this.#chunks;
    this.#chunks = [];
    this.bytes = 0;
    this.generation++;
    return chunks;
  }

  /**
   * @returns everything to write as one buffer when it is one contiguous run (the
   *   common case: small frames), else undefined and nothing is taken
   */
  takeSingle(): Buffer | undefined {
    if (this.#chunks.length > 0) return undefined;
    const run = this.#slab.subarray(this.#runStart, this.#offset);
    this.#runStart = this.#offset;
    this.bytes = 0;
    this.generation++;
    return run;
  }

  /** True when there is nothing to write. */
  get empty(): boolean {
    return this.bytes === 0;
  }

  #cut(): void {
    if (this.#offset > this.#runStart) {
      this.#chunks.push(this.#slab.subarray(this.#runStart, this.#offset));
      this.#runStart = this.#offset;
    }
  }

  #reserve(size: number): void {
    if (this.#slab.length - this.#offset >= size) return;
    this.#cut();
    // The old slab stays alive until the writes that reference it are done.
    this.#slab = Buffer.allocUnsafeSlow(Math.max(SLAB_SIZE, size));
    this.#offset = 0;
    this.#runStart = 0;
  }

  /**
   * Encodes a frame with a header block and a body.
   * @returns the frame's `length` field (the bytes after it), or -1 when the
   *   header block is larger than `maxHeaderSize` (nothing is written then)
   */
  writeMessage(
    streamId: number,
    type: FrameTypeValue,
    header: Header,
    body: Uint8Array,
    maxHeaderSize: number,
  ): number {
    const bodyLength = body.byteLength;
    const copyBody = bodyLength <= COPY_THRESHOLD;
    const tail = copyBody ? bodyLength : 0;
    // One pass over the header in the common case: room for a typical header block is
    // reserved up front, and only a header too large for it takes the measured path.
    this.#reserve(PREFIX_SIZE + 2 + HEADER_RESERVE + tail);
    let headerLength = this.#writeHeader(header, maxHeaderSize, tail);
    if (headerLength === RETRY) {
      const bound = headerBound(header, maxHeaderSize);
      if (bound < 0) return -1;
      this.#reserve(PREFIX_SIZE + 2 + bound + tail);
      headerLength = this.#writeHeader(header, maxHeaderSize, tail);
    }
    if (headerLength < 0) return -1;
    const slab = this.#slab;
    const start = this.#offset;
    const at = start + PREFIX_SIZE + headerLength;
    const length = FIXED_PAYLOAD + headerLength + bodyLength;
    writeUint32(slab, length, start);
    writeUint32(slab, streamId, start + 4);
    slab[start + 8] = type;
    slab[start + 9] = 0;
    writeUint32(slab, headerLength, start + 10);
    this.lastFlagsBuffer = slab;
    this.lastFlagsAt = start + 9;
    if (copyBody) {
      if (bodyLength > 0) slab.set(body, at);
      this.#offset = at + bodyLength;
    } else {
      this.#offset = at;
      this.#cut();
      this.#chunks.push(body);
    }
    this.bytes += 4 + length;
    return length;
  }

  /**
   * Writes the header block after the prefix at the current offset.
   * @returns its length; -1 when it exceeds `maxHeaderSize`; RETRY when the slab ran out of room
   */
  #writeHeader(header: Header, maxHeaderSize: number, tail: number): number {
    const slab = this.#slab;
    const blockStart = this.#offset + PREFIX_SIZE;
    const limit = slab.length - tail;
    let at = blockStart + 2;
    let count = 0;
    for (const key in header) {
      const raw = header[key];
      if (raw === undefined) continue;
      const value = typeof raw === 'string' ? raw : String(raw);
      // A UTF-16 code unit takes at most 3 bytes of UTF-8.
      if (at + 6 + 3 * (key.length + value.length) > limit) return RETRY;
      const keyBytes = writeString(slab, key, at + 6);
      const valueBytes = writeString(slab, value, at + 6 + keyBytes);
      if (keyBytes > 0xffff) return -1;
      slab[at] = keyBytes >>> 8;
      slab[at + 1] = keyBytes;
      writeUint32(slab, valueBytes, at + 2);
      at += 6 + keyBytes + valueBytes;
      count++;
      if (at - blockStart > maxHeaderSize || count > 0xffff) return -1;
    }
    slab[blockStart] = count >>> 8;
    slab[blockStart + 1] = count;
    return at - blockStart;
  }

  /** Encodes a frame with no header block and an optional small body (CLOSE, RESET, WINDOW). */
  writeControl(streamId: number, type: FrameTypeValue, body?: Uint8Array): void {
    const bodyLength = body === undefined ? 0 : body.byteLength;
    this.#reserve(PREFIX_SIZE + bodyLength);
    const slab = this.#slab;
    const start = this.#offset;
    writeUint32(slab, FIXED_PAYLOAD + bodyLength, start);
    writeUint32(slab, streamId, start + 4);
    slab[start + 8] = type;
    slab[start + 9] = 0;
    writeUint32(slab, 0, start + 10);
    if (body !== undefined && bodyLength > 0) slab.set(body, start + PREFIX_SIZE);
    this.#offset = start + PREFIX_SIZE + bodyLength;
    this.bytes += PREFIX_SIZE + bodyLength;
  }

  /** Encodes a WINDOW frame granting `increment` bytes on a stream. */
  writeWindow(streamId: number, increment: number): void {
    this.#reserve(PREFIX_SIZE + 4);
    const slab = this.#slab;
    const start = this.#offset;
    writeUint32(slab, FIXED_PAYLOAD + 4, start);
    writeUint32(slab, streamId, start + 4);
    slab[start + 8] = FrameType.Window;
    slab[start + 9] = 0;
    writeUint32(slab, 0, start + 10);
    writeUint32(slab, increment, start + PREFIX_SIZE);
    this.#offset = start + PREFIX_SIZE + 4;
    this.bytes += PREFIX_SIZE + 4;
  }
}

/**
 * Writes a string as UTF-8. ASCII, the common case for header names and values,
 * is copied byte by byte: cheaper than a call into C++ for short strings.
 */
function writeString(buffer: Buffer, value: string, at: number): number {
  const length = value.length;
  if (length > 64) return buffer.write(value, at, 'utf8');
  for (let i = 0; i < length; i++) {
    const code = value.charCodeAt(i);
    if (code >= 0x80) return buffer.write(value, at, 'utf8');
    buffer[at + i] = code;
  }
  return length;
}

/**
 * The exact size of a header block, for checking a header against the limit
 * without encoding it.
 */
export function headerBlockSize(header: Header): number {
  let size = 2;
  for (const key in header) {
    const value = header[key];
    if (value === undefined) continue;
    size += 6 + Buffer.byteLength(key) + Buffer.byteLength(String(value));
  }
  return size;
}

/**
 * Node's Buffer has had these since its first release; `toString(encoding, …)`
 * dispatches to them after argument checks that cost more than the copy for short strings.
 */
interface SliceBuffer extends Buffer {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}

/** Reads a big-endian u32 without the bounds-check call of `readUInt32BE` (callers check bounds). */
export function readUint32(buffer: Uint8Array, at: number): number {
  return (
    ((buffer[at]! << 24) | (buffer[at + 1]! << 16) | (buffer[at + 2]! << 8) | buffer[at + 3]!) >>> 0
  );
}

/** Writes a big-endian u32. */
export function writeUint32(buffer: Uint8Array, value: number, at: number): void {
  buffer[at] = value >>> 24;
  buffer[at + 1] = value >>> 16;
  buffer[at + 2] = value >>> 8;
  buffer[at + 3] = value;
}

const CACHE_SIZE = 1024;
const CACHE_MAX_LENGTH = 64;
const cachedStrings: (string | undefined)[] = new Array(CACHE_SIZE).fill(undefined);

/**
 * Decodes one header string. Header names and most values repeat on every message
 * (`Content-Type`, `application/json`, `Micro-Service`), so short ASCII strings go
 * through a small cache: a hit returns the string already made (and already
 * internalised, for names used as property keys) with no call into C++. The slot
 * comes from a cheap hash; the bytes are always compared. Cached strings are ASCII,
 * so a hit also proves the bytes valid; a miss checks them.
 * @throws {@link ProtocolError} when the bytes are not UTF-8
 */
function decodeString(buffer: Buffer, start: number, end: number): string {
  const length = end - start;
  if (length === 0) return '';
  let slot = -1;
  if (length <= CACHE_MAX_LENGTH) {
    slot =
      (length * 31 +
        buffer[start]! * 7 +
        buffer[end - 1]! * 131 +
        buffer[start + (length >>> 1)]! * 17) &
      (CACHE_SIZE - 1);
    const cached = cachedStrings[slot];
    if (cached !== undefined && cached.length === length) {
      let i = 0;
      while (i < length && cached.charCodeAt(i) === buffer[start + i]) i++;
      if (i === length) return cached;
    }
  }
  for (let i = start; i < end; i++) {
    if (buffer[i]! >= 0x80) {
      if (!isUtf8(buffer.subarray(start, end))) {
        throw new ProtocolError('header text is not valid UTF-8');
      }
      return (buffer as SliceBuffer).utf8Slice(start, end);
    }
  }
  const value = (buffer as SliceBuffer).latin1Slice(start, end);
  if (slot >= 0) cachedStrings[slot] = value;
  return value;
}

/**
 * Decodes a header block.
 * @throws {@link ProtocolError} when the lengths do not add up or the text is not UTF-8
 */
export function decodeHeaderBlock(buffer: Buffer, start: number, length: number): Header {
  const header: Header = {};
  if (length === 0) return header;
  if (length < 2) throw new ProtocolError('header block shorter than its count');
  const end = start + length;
  const count = (buffer[start]! << 8) | buffer[start + 1]!;
  let at = start + 2;
  for (let entry = 0; entry < count; entry++) {
    if (at + 6 > end) throw new ProtocolError('header entry overruns the header block');
    const keyLength = (buffer[at]! << 8) | buffer[at + 1]!;
    const valueLength = readUint32(buffer, at + 2);
    const keyStart = at + 6;
    const valueStart = keyStart + keyLength;
    at = valueStart + valueLength;
    if (at > end) throw new ProtocolError('header entry overruns the header block');
    const key = decodeString(buffer, keyStart, valueStart);
    const value = decodeString(buffer, valueStart, at);
    setHeaderEntry(header, key, value);
  }
  if (at !== end)
    throw new ProtocolError('header entries do not add up to the header block length');
  return header;
}

/** Receives the frames a {@link FrameReader} cuts out of the byte stream. */
export interface FrameSink {
  /**
   * One complete frame: `buffer[start, start + 4 + length)`. Views into `buffer`
   * stay valid: the reader never reuses a buffer it handed out.
   */
  frame(buffer: Buffer, start: number, length: number): void;
}

/**
 * Cuts frames out of a TCP byte stream. Frames inside one chunk are handed up as
 * views of that chunk (no copy); a frame split across chunks is gathered into one
 * buffer of its exact size, allocated once its length is known and only when that
 * length is within the limit.
 */
export class FrameReader {
  #partial: Buffer | null = null;
  #filled = 0;
  readonly #lengthBytes = Buffer.alloc(4);
  #lengthFilled = 0;
  #stopped = false;

  /**
   * @param sink where complete frames go
   * @param maxLength the largest acceptable `length` field
   */
  constructor(
    private readonly sink: FrameSink,
    private maxLength: number,
  ) {}

  /** Changes the largest acceptable `length` field. */
  setMaxLength(maxLength: number): void {
    this.maxLength = maxLength;
  }

  /** Ignores everything from now on. */
  stop(): void {
    this.#stopped = true;
    this.#partial = null;
  }

  /** True when a frame has been started but not finished. */
  get midFrame(): boolean {
    return this.#partial !== null || this.#lengthFilled > 0;
  }

  /**
   * Consumes one chunk of the stream.
   * @throws {@link ProtocolError} on a length outside the limits (nothing of the frame is buffered)
   */
  push(chunk: Buffer): void {
    if (this.#stopped) return;
    const size = chunk.length;
    let offset = 0;
    if (this.#partial !== null) {
      const partial = this.#partial;
      const need = partial.length - this.#filled;
      if (size < need) {
        chunk.copy(partial, this.#filled);
        this.#filled += size;
        return;
      }
      chunk.copy(partial, this.#filled, 0, need);
      this.#partial = null;
      offset = need;
      this.sink.frame(partial, 0, partial.length - 4);
    } else if (this.#lengthFilled > 0) {
      const lengthBytes = this.#lengthBytes;
      while (this.#lengthFilled < 4 && offset < size) {
        lengthBytes[this.#lengthFilled++] = chunk[offset++]!;
      }
      if (this.#lengthFilled < 4) return;
      this.#lengthFilled = 0;
      const length = lengthBytes.readUInt32BE(0);
      this.#check(length, chunk, offset - 4);
      const frame = Buffer.allocUnsafe(4 + length);
      lengthBytes.copy(frame, 0);
      const available = size - offset;
      if (available < length) {
        chunk.copy(frame, 4, offset);
        this.#partial = frame;
        this.#filled = 4 + available;
        return;
      }
      chunk.copy(frame, 4, offset, offset + length);
      offset += length;
      this.sink.frame(frame, 0, length);
    }
    while (offset < size) {
      if (this.#stopped) return;
      if (size - offset < 4) {
        while (offset < size) this.#lengthBytes[this.#lengthFilled++] = chunk[offset++]!;
        return;
      }
      const length = readUint32(chunk, offset);
      this.#check(length, chunk, offset);
      const end = offset + 4 + length;
      if (end > size) {
        const frame = Buffer.allocUnsafe(4 + length);
        chunk.copy(frame, 0, offset);
        this.#partial = frame;
        this.#filled = size - offset;
        return;
      }
      this.sink.frame(chunk, offset, length);
      offset = end;
    }
  }

  #check(length: number, chunk: Buffer, start: number): void {
    if (length < FIXED_PAYLOAD) {
      throw new ProtocolError(`frame length ${length} is shorter than a frame prefix`);
    }
    if (length > this.maxLength) {
      // The stream id is known only when the prefix came in this chunk (start may be < 0 otherwise).
      const streamId = start >= 0 && chunk.length >= start + 8 ? chunk.readUInt32BE(start + 4) : 0;
      throw new ProtocolError(
        `frame of ${length} bytes exceeds the limit of ${this.maxLength}`,
        413,
        streamId,
      );
    }
  }
}
