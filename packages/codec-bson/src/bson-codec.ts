import { types } from 'node:util';
import { type Codec, codecError, errorMessage } from '@micro/core';
import {
  Binary,
  type DeserializeOptions,
  type Document,
  deserialize,
  type SerializeOptions,
  serialize,
  UUID,
} from 'bson';

/** How BSON `int64` values decode. */
export type Int64Mode = 'auto' | 'long' | 'bigint';

/** Options for {@link BsonCodec}. */
export interface BsonCodecOptions {
  /**
   * The content type written on messages.
   * @default 'application/bson'
   */
  contentType?: string;
  /**
   * Further content types this codec reads and answers.
   * @default []
   */
  aliases?: readonly string[];
  /**
   * How BSON `int64` values decode: `auto` gives a number when it is exact
   * (|n| < 2^53) and a `Long` otherwise, as the MongoDB driver does; `long` always
   * a `Long`; `bigint` always a bigint. `int32` and `double` are always numbers.
   * @default 'auto'
   */
  int64AsType?: Int64Mode;
  /**
   * The largest document written or read, in bytes. Larger values throw a codec
   * error (500 when encoding, 400 when decoding).
   * @default 16 MiB ({@link BSON_MAX_DOCUMENT_SIZE}), MongoDB's limit
   */
  maxDocumentSize?: number;
}

/** BSON's document size limit as MongoDB enforces it: 16 MiB. */
export const BSON_MAX_DOCUMENT_SIZE = 16 * 1024 * 1024;

/**
 * The field a value that is not a document travels in: `{ "$value": <value> }`.
 * A document whose only field is this one is wrapped as well, so decoding
 * unwraps exactly one level and every value comes back as it was sent.
 */
export const BSON_WRAPPER_FIELD = '$value';

// bson serializes into one module-wide buffer of 17 MiB and silently truncates a
// document that does not fit; a limit below it turns that into an error.
const BSON_INTERNAL_BUFFER = 17 * 1024 * 1024;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const NAME = 'bson';

/**
 * BSON (`application/bson`) on the `bson` package, the MongoDB driver's own.
 *
 * Documents (plain objects, class instances, `Map`s) are written as they are. Any
 * other value (an array, a string, a number, a boolean, `null`, a `Date`, a
 * `Uint8Array`, a BSON value such as an `ObjectId`) is wrapped as
 * `{ "$value": value }` ({@link BSON_WRAPPER_FIELD}) and unwrapped on decode, so
 * any handler result can be sent; `undefined` travels as `null`, as in JSON.
 *
 * BSON types survive: `ObjectId`, `Decimal128`, `Long` (int64), `Timestamp`,
 * `Binary` with its subtype (subtype 4 decodes as `UUID`), `Date`. A `Uint8Array`
 * is written as generic binary (subtype 0) and decodes as a `Uint8Array` (a
 * `Buffer`) copied out of the body. A `bigint` is written as int64. Properties
 * whose value is `undefined`, functions and symbols are left out, as in JSON.
 *
 * Errors: truncated input, trailing bytes and malformed documents throw a 400
 * codec error; a bigint outside int64, an invalid `Date`, a cyclic structure or a
 * document over {@link BsonCodecOptions.maxDocumentSize} throws a 500.
 *
 * @example
 * const service = await createService({ name: 'orders', codecs: [bsonCodec] });
 * await service.client.call('orders', 'Orders.Get', { id: new ObjectId(hex) }, {
 *   contentType: 'application/bson',
 * });
 */
export class BsonCodec implements Codec {
  readonly name = NAME;
  readonly contentType: string;
  readonly aliases: readonly string[];
  readonly #maxDocumentSize: number;
  readonly #deserializeOptions: DeserializeOptions;
  readonly #serializeOptions: SerializeOptions;

  /**
   * @param options content types, int64 decoding and size limit; see {@link BsonCodecOptions}
   * @throws TypeError when `maxDocumentSize` is not a positive integer
   */
  constructor(options: BsonCodecOptions = {}) {
    this.contentType = options.contentType ?? 'application/bson';
    this.aliases = options.aliases ?? [];
    const max = options.maxDocumentSize ?? BSON_MAX_DOCUMENT_SIZE;
    if (!Number.isSafeInteger(max) || max < 5) {
      throw new TypeError(`maxDocumentSize must be an integer of at least 5 bytes, got ${max}`);
    }
    this.#maxDocumentSize = max;
    // A limit past bson's own buffer needs a bigger buffer, or overflow would go unseen.
    // (`minInternalBufferSize` is a bson option its type declarations leave out.)
    this.#serializeOptions =
      max >= BSON_INTERNAL_BUFFER ? ({ minInternalBufferSize: max + 1 } as SerializeOptions) : {};
    const int64 = options.int64AsType ?? 'auto';
    this.#deserializeOptions = {
      promoteBuffers: false,
      // bson wants promoteLongs left on when it is asked for bigints.
      promoteLongs: int64 !== 'long',
      useBigInt64: int64 === 'bigint',
    };
  }

  /**
   * @param value the value to encode; anything that is not a document is wrapped
   * @returns one BSON document
   * @throws {@link MicroError} 500 (`go.micro.codec`) for a value BSON cannot carry
   *   or a document over the size limit
   */
  marshal(value: unknown): Uint8Array {
    const document = needsWrapper(value) ? { [BSON_WRAPPER_FIELD]: value ?? null } : value;
    const problem = findUnencodable(document);
    if (problem) throw codecError(NAME, `cannot encode value: ${problem}`, 500);
    let bytes: Uint8Array;
    try {
      bytes = serialize(document as Document, this.#serializeOptions);
    } catch (error) {
      throw codecError(NAME, `cannot encode value: ${errorMessage(error)}`, 500, error);
    }
    if (bytes.byteLength > this.#maxDocumentSize) {
      throw codecError(
        NAME,
        `cannot encode value: the document is larger than the BSON limit of ${this.#maxDocumentSize} bytes (${describeSize(this.#maxDocumentSize)})`,
        500,
      );
    }
    return bytes;
  }

  /**
   * @param data exactly one BSON document; empty input decodes to `undefined`
   * @returns the document, or the value it wraps
   * @throws {@link MicroError} 400 (`go.micro.codec`) for truncated, padded,
   *   malformed or oversized input
   */
  unmarshal(data: Uint8Array): unknown {
    if (data.byteLength === 0) return undefined;
    if (data.byteLength > this.#maxDocumentSize) {
      throw codecError(
        NAME,
        `malformed body: ${data.byteLength} bytes is over the limit of ${this.#maxDocumentSize} bytes`,
        400,
      );
    }
    let document: Document;
    try {
      document = deserialize(data, this.#deserializeOptions);
    } catch (error) {
      throw codecError(NAME, `malformed body: ${errorMessage(error)}`, 400, error);
    }
    promoteBinaries(document);
    return isWrapper(document) ? document[BSON_WRAPPER_FIELD] : document;
  }
}

/** True when a value cannot be a BSON document by itself, or looks like a wrapper. */
function needsWrapper(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return true;
  if (Array.isArray(value) || ArrayBuffer.isView(value) || types.isAnyArrayBuffer(value)) {
    return true;
  }
  if (types.isDate(value) || types.isRegExp(value) || '_bsontype' in value) return true;
  if (value instanceof Map || types.isMap(value)) {
    return value.size === 1 && value.has(BSON_WRAPPER_FIELD);
  }
  return isWrapper(value);
}

/** A document whose one and only own field is the wrapper field. */
function isWrapper(document: object): boolean {
  let count = 0;
  for (const key in document) {
    if (++count > 1 || key !== BSON_WRAPPER_FIELD) return false;
  }
  return count === 1;
}

/** How deep {@link findUnencodable} looks; deeper values are written unchecked. */
const CHECK_DEPTH = 256;

/**
 * Finds what bson would write wrong without a word: a bigint outside int64 (it
 * wraps around) and an invalid Date (it becomes 1970-01-01). Returns a description
 * with the field's path, or undefined. Cycles are left to bson, which refuses them.
 */
function findUnencodable(root: unknown): string | undefined {
  const ancestors: object[] = [];
  const visit = (container: object, depth: number): string | undefined => {
    if (depth > CHECK_DEPTH || ancestors.includes(container)) return undefined;
    ancestors.push(container);
    let problem: string | undefined;
    if (Array.isArray(container)) {
      for (let i = 0; i < container.length && !problem; i++) {
        problem = checkValue(container[i], i, depth);
      }
    } else if (container instanceof Map || types.isMap(container)) {
      for (const [key, value] of container as Map<unknown, unknown>) {
        problem = checkValue(value, key, depth);
        if (problem) break;
      }
    } else {
      for (const key in container) {
        problem = checkValue((container as Record<string, unknown>)[key], key, depth);
        if (problem) break;
      }
    }
    ancestors.pop();
    return problem;
  };
  const checkValue = (value: unknown, key: unknown, depth: number): string | undefined => {
    if (typeof value === 'bigint') {
      if (value >= INT64_MIN && value <= INT64_MAX) return undefined;
      return `${String(key)}: bigint ${value} is outside BSON's int64 range`;
    }
    if (typeof value !== 'object' || value === null) return undefined;
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null && !Array.isArray(value)) {
      if (types.isDate(value)) {
        return Number.isNaN((value as Date).getTime()) ? `${String(key)}: invalid Date` : undefined;
      }
      if (
        '_bsontype' in value ||
        ArrayBuffer.isView(value) ||
        types.isAnyArrayBuffer(value) ||
        types.isRegExp(value) ||
        typeof (value as { toBSON?: unknown }).toBSON === 'function'
      ) {
        return undefined;
      }
    }
    const inner = visit(value, depth + 1);
    return inner === undefined ? undefined : `${String(key)}.${inner}`;
  };
  return typeof root === 'object' && root !== null ? visit(root, 0) : undefined;
}

/**
 * Generic binary (subtype 0) becomes a Uint8Array and every Binary gets bytes of
 * its own: bson hands out views of the received body. bson builds documents as
 * plain objects and arrays, so nothing else needs a look.
 */
function promoteBinaries(root: Document): void {
  const stack: object[] = [root];
  while (stack.length > 0) {
    const container = stack.pop() as Record<string | number, unknown>;
    if (Array.isArray(container)) {
      for (let i = 0; i < container.length; i++) {
        const value: unknown = container[i];
        if (typeof value === 'object' && value !== null) promote(container, i, value, stack);
      }
    } else {
      for (const key in container) {
        const value = container[key];
        if (typeof value === 'object' && value !== null) promote(container, key, value, stack);
      }
    }
  }
}

function promote(
  container: Record<string | number, unknown>,
  key: string | number,
  value: object,
  stack: object[],
): void {
  if (Array.isArray(value)) stack.push(value);
  else if (value instanceof Binary) {
    const bytes = Buffer.from(value.buffer.subarray(0, value.position));
    container[key] =
      value.sub_type === Binary.SUBTYPE_DEFAULT
        ? bytes
        : value instanceof UUID
          ? new UUID(bytes)
          : new Binary(bytes, value.sub_type);
  } else if (Object.getPrototypeOf(value) === Object.prototype) stack.push(value);
}

function describeSize(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes} bytes`;
}

/**
 * Creates a BSON codec.
 * @param options content types, int64 decoding and size limit; see {@link BsonCodecOptions}
 * @returns a codec to pass in a Service's or client's `codecs`
 * @throws TypeError when `maxDocumentSize` is not a positive integer
 * @example
 * const codec = createBsonCodec({ int64AsType: 'long' });
 * const service = await createService({ name: 'ledger', codecs: [codec] });
 */
export function createBsonCodec(options: BsonCodecOptions = {}): BsonCodec {
  return new BsonCodec(options);
}

/** The shared BSON codec with the default options. */
export const bsonCodec: BsonCodec = new BsonCodec();
