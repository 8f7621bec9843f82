import { type Codec, codecError, errorMessage } from '@micro/core';
import { Packr, type Options as PackrOptions, Unpackr } from 'msgpackr';
import { scanValue } from './scan.js';

/** How MessagePack 64-bit integers (`int 64`, `uint 64`) decode. */
export type Int64Mode = 'auto' | 'bigint' | 'number' | 'string';

/** Options for {@link MsgpackCodec}. */
export interface MsgpackCodecOptions {
  /**
   * The content type written on messages.
   * @default 'application/msgpack'
   */
  contentType?: string;
  /**
   * Further content types this codec reads and answers.
   * @default ['application/x-msgpack']
   */
  aliases?: readonly string[];
  /**
   * Write msgpackr's record extension (object shapes sent once and referenced
   * after), which is smaller and faster but readable only by msgpackr. Leave it
   * off when any peer is not JavaScript: go-micro's msgpack codec and every other
   * MessagePack library read plain maps. When on, framing is checked by msgpackr
   * alone (records span several values), and records from peers are read.
   * @default false
   */
  useRecords?: boolean;
  /**
   * Write msgpackr's own extension types for `Set`, `Error`, `RegExp` and typed
   * arrays other than `Uint8Array`, so they round-trip between msgpackr peers. Off,
   * a Set is written as an array, an Error and a RegExp as arrays of their parts,
   * and a typed array as binary. When on, framing is checked by msgpackr alone,
   * as with `useRecords`.
   * @default false
   */
  moreTypes?: boolean;
  /**
   * How `int 64` / `uint 64` values decode: `auto` gives a number when it is
   * exact (|n| ≤ 2^53) and a bigint otherwise, so no value ever loses precision;
   * `bigint` always gives a bigint; `number` always a number (large values are
   * rounded); `string` their decimal text. Smaller integers are always numbers.
   * @default 'auto'
   */
  int64AsType?: Int64Mode;
  /**
   * Copy binary values out of the received body. Off, a decoded `Uint8Array` is a
   * view of the transport's buffer: faster, but it keeps that buffer alive and
   * changes if a transport reuses it.
   * @default true
   */
  copyBuffers?: boolean;
}

const NAME = 'msgpack';

/**
 * MessagePack (`application/msgpack`, also read as `application/x-msgpack`) on
 * msgpackr, written as plain MessagePack any language reads.
 *
 * Encoding: objects and `Map`s become maps (a property whose value is `undefined`
 * is left out, as JSON does), `undefined` elsewhere becomes nil; `Uint8Array`,
 * `Buffer` and `ArrayBuffer` become binary; `Date` becomes the standard timestamp
 * extension (-1); a `bigint` becomes a 64-bit integer (`int 64`, or `uint 64` above
 * 2^63 - 1). Values MessagePack cannot carry (functions, symbols, bigints outside
 * 64 bits, invalid Dates, cyclic structures) throw a 500 codec error.
 *
 * Decoding is strict: the body must be exactly one MessagePack value; truncated
 * input, trailing bytes, the reserved byte 0xc1 and unknown extension types throw
 * a 400 codec error. Maps decode to plain objects, binary to `Uint8Array`
 * (`Buffer`), timestamps to `Date`, nil to `null`, and 64-bit integers as
 * {@link MsgpackCodecOptions.int64AsType} says.
 *
 * @example
 * const service = await createService({ name: 'files', codecs: [msgpackCodec] });
 * await service.client.call('files', 'Files.Put', { name: 'a.bin', data: bytes }, {
 *   contentType: 'application/msgpack',
 * });
 */
export class MsgpackCodec implements Codec {
  readonly name = NAME;
  readonly contentType: string;
  readonly aliases: readonly string[];
  readonly #packr: Packr;
  readonly #unpackr: Unpackr;
  readonly #strict: boolean;

  /** @param options content types and msgpackr settings; see {@link MsgpackCodecOptions} */
  constructor(options: MsgpackCodecOptions = {}) {
    this.contentType = options.contentType ?? 'application/msgpack';
    this.aliases = options.aliases ?? ['application/x-msgpack'];
    const useRecords = options.useRecords ?? false;
    const moreTypes = options.moreTypes ?? false;
    // Records and msgpackr's extra types put an extension before the value it
    // describes, so one of them spans several MessagePack values.
    this.#strict = !useRecords && !moreTypes;
    const shared = {
      useRecords,
      moreTypes,
      mapsAsObjects: true,
    } satisfies PackrOptions;
    // Options msgpackr reads but does not declare in its types.
    const packOptions: PackrOptions & { skipValues: unknown[] } = {
      ...shared,
      encodeUndefinedAsNil: true,
      skipValues: [undefined],
      writeFunction: () => {
        throw new TypeError('a function cannot be encoded');
      },
      onInvalidDate: () => {
        throw new TypeError('an invalid Date cannot be encoded');
      },
    };
    this.#packr = new Packr(packOptions);
    const unpackOptions: Omit<PackrOptions, 'int64AsType'> & { int64AsType: Int64Mode } = {
      ...shared,
      int64AsType: options.int64AsType ?? 'auto',
      copyBuffers: options.copyBuffers ?? true,
    };
    this.#unpackr = new Unpackr(unpackOptions as PackrOptions);
  }

  /**
   * @param value the value to encode
   * @returns the MessagePack bytes
   * @throws {@link MicroError} 500 (`go.micro.codec`) for a value MessagePack cannot carry
   */
  marshal(value: unknown): Uint8Array {
    try {
      return this.#packr.pack(value);
    } catch (error) {
      throw codecError(NAME, `cannot encode value: ${describe(error)}`, 500, error);
    }
  }

  /**
   * @param data exactly one MessagePack value; empty input decodes to `undefined`
   * @returns the decoded value
   * @throws {@link MicroError} 400 (`go.micro.codec`) for truncated, padded or malformed input
   */
  unmarshal(data: Uint8Array): unknown {
    if (data.byteLength === 0) return undefined;
    if (this.#strict) {
      let end: number;
      try {
        end = scanValue(data);
      } catch (error) {
        throw codecError(NAME, `malformed body: ${errorMessage(error)}`, 400, error);
      }
      if (end !== data.byteLength) {
        throw codecError(
          NAME,
          `malformed body: ${data.byteLength - end} trailing byte(s) after the value ending at byte ${end}`,
          400,
        );
      }
    }
    try {
      return this.#unpackr.unpack(data);
    } catch (error) {
      throw codecError(NAME, `malformed body: ${describe(error)}`, 400, error);
    }
  }
}

function describe(error: unknown): string {
  const message = errorMessage(error);
  // A stack overflow inside msgpackr: say what the caller can fix.
  return /maximum call stack/i.test(message) ? `too deeply nested or cyclic (${message})` : message;
}

/**
 * Creates a MessagePack codec.
 * @param options content types and msgpackr settings; see {@link MsgpackCodecOptions}
 * @returns a codec to pass in a Service's or client's `codecs`
 * @example
 * const codec = createMsgpackCodec({ int64AsType: 'bigint' });
 * const service = await createService({ name: 'ledger', codecs: [codec] });
 */
export function createMsgpackCodec(options: MsgpackCodecOptions = {}): MsgpackCodec {
  return new MsgpackCodec(options);
}

/** The shared MessagePack codec with the default options. */
export const msgpackCodec: MsgpackCodec = new MsgpackCodec();
