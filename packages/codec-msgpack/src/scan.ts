/**
 * A structural check of MessagePack bytes that allocates nothing: it walks the type
 * bytes and lengths of exactly one value and reports where it ends. The codec uses
 * it for strict framing, because a decoder that stops after one value would
 * otherwise accept a truncated or padded body, and msgpackr returns a placeholder
 * object for the reserved byte 0xc1 instead of failing.
 */

/** Why a body is not one well-formed MessagePack value. */
export class MsgpackFormatError extends Error {
  /**
   * @param message what is wrong
   * @param offset the byte offset where it was found
   */
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'MsgpackFormatError';
  }
}

/**
 * Returns the offset just past the first complete MessagePack value in `data`.
 * Every container's items are counted rather than recursed into, so deep nesting
 * costs no stack.
 * @param data the bytes to check
 * @throws {@link MsgpackFormatError} when the value is truncated, declares more
 *   items than the bytes could hold, or uses the reserved byte 0xc1
 */
export function scanValue(data: Uint8Array): number {
  const length = data.length;
  let offset = 0;
  // Values still to read: one at the top, plus every item a container declares.
  let pending = 1;
  while (pending > 0) {
    if (offset >= length) throw truncated(offset, pending);
    const byte = data[offset]!;
    pending--;
    if (byte <= 0x7f || byte >= 0xe0) {
      offset += 1; // positive and negative fixint
      continue;
    }
    if (byte <= 0x8f) {
      pending += 2 * (byte & 0x0f); // fixmap
      offset += 1;
    } else if (byte <= 0x9f) {
      pending += byte & 0x0f; // fixarray
      offset += 1;
    } else if (byte <= 0xbf) {
      offset += 1 + (byte & 0x1f); // fixstr
    } else {
      switch (byte) {
        case 0xc0: // nil
        case 0xc2: // false
        case 0xc3: // true
          offset += 1;
          break;
        case 0xc1:
          throw new MsgpackFormatError('reserved byte 0xc1 is never used by MessagePack', offset);
        case 0xc4: // bin 8
        case 0xd9: // str 8
          offset += 2 + readLength(data, offset + 1, 1);
          break;
        case 0xc5: // bin 16
        case 0xda: // str 16
          offset += 3 + readLength(data, offset + 1, 2);
          break;
        case 0xc6: // bin 32
        case 0xdb: // str 32
          offset += 5 + readLength(data, offset + 1, 4);
          break;
        case 0xc7: // ext 8: length, type, data
          offset += 3 + readLength(data, offset + 1, 1);
          break;
        case 0xc8: // ext 16
          offset += 4 + readLength(data, offset + 1, 2);
          break;
        case 0xc9: // ext 32
          offset += 6 + readLength(data, offset + 1, 4);
          break;
        case 0xca: // float 32
        case 0xce: // uint 32
        case 0xd2: // int 32
          offset += 5;
          break;
        case 0xcb: // float 64
        case 0xcf: // uint 64
        case 0xd3: // int 64
          offset += 9;
          break;
        case 0xcc: // uint 8
        case 0xd0: // int 8
          offset += 2;
          break;
        case 0xcd: // uint 16
        case 0xd1: // int 16
          offset += 3;
          break;
        case 0xd4: // fixext 1: type, 1 byte
          offset += 3;
          break;
        case 0xd5: // fixext 2
          offset += 4;
          break;
        case 0xd6: // fixext 4
          offset += 6;
          break;
        case 0xd7: // fixext 8
          offset += 10;
          break;
        case 0xd8: // fixext 16
          offset += 18;
          break;
        case 0xdc: // array 16
          pending += readLength(data, offset + 1, 2);
          offset += 3;
          break;
        case 0xdd: // array 32
          pending += readLength(data, offset + 1, 4);
          offset += 5;
          break;
        case 0xde: // map 16
          pending += 2 * readLength(data, offset + 1, 2);
          offset += 3;
          break;
        default: // 0xdf, map 32
          pending += 2 * readLength(data, offset + 1, 4);
          offset += 5;
      }
    }
    // Every pending value takes at least one byte: fail before walking a
    // container that claims millions of items in a few bytes.
    if (offset + pending > length) throw truncated(Math.min(offset, length), pending);
  }
  return offset;
}

function readLength(data: Uint8Array, at: number, size: 1 | 2 | 4): number {
  if (at + size > data.length) throw truncated(data.length, 1);
  if (size === 1) return data[at]!;
  if (size === 2) return (data[at]! << 8) | data[at + 1]!;
  return data[at]! * 0x1000000 + ((data[at + 1]! << 16) | (data[at + 2]! << 8) | data[at + 3]!);
}

function truncated(offset: number, pending: number): MsgpackFormatError {
  return new MsgpackFormatError(
    `truncated input: ended at byte ${offset} with ${pending} value${pending === 1 ? '' : 's'} still to read`,
    offset,
  );
}
