/**
 * Codecs turn request and response values into bytes. The server picks one by the
 * request's Content-Type and answers in the same; the client picks one per call.
 */
import { ErrorIds, MicroError, unsupportedMediaType } from '../errors/errors.js';

/** Encodes and decodes message bodies for one content type. */
export interface Codec {
  /** A short name, e.g. `json`. */
  readonly name: string;
  /** The content type written on messages, e.g. `application/json`. */
  readonly contentType: string;
  /** Further content types this codec reads and answers, e.g. `application/x-msgpack`. */
  readonly aliases?: readonly string[];
  /**
   * @param value the value to encode
   * @returns the encoded bytes
   * @throws {@link MicroError} from {@link codecError} (code 500) when the value cannot be encoded
   */
  marshal(value: unknown): Uint8Array;
  /**
   * @param data the bytes to decode; empty input decodes to `undefined` unless the
   *   format has an empty value of its own (bytes)
   * @returns the decoded value
   * @throws {@link MicroError} from {@link codecError} (code 400) when the bytes are malformed
   */
  unmarshal(data: Uint8Array): unknown;
}

/**
 * The error a codec throws: code 400 for input it cannot decode, 500 for a value
 * it cannot encode. Its id is `go.micro.codec`.
 * @param codec the codec's name
 * @param detail what went wrong
 * @param code 400 (decode) or 500 (encode)
 * @param cause the underlying library error
 */
export function codecError(
  codec: string,
  detail: string,
  code: 400 | 500,
  cause?: unknown,
): MicroError {
  return new MicroError(ErrorIds.codec, `${codec}: ${detail}`, code, { cause });
}

/** Strips parameters (`; charset=utf-8`) and case from a content type. */
export function normalizeContentType(contentType: string): string {
  const semicolon = contentType.indexOf(';');
  return (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
}

/**
 * A set of codecs looked up by content type (aliases included).
 *
 * @example
 * const codecs = new Codecs([jsonCodec, bytesCodec]);
 * codecs.require('application/json; charset=utf-8'); // jsonCodec
 */
export class Codecs {
  readonly #byType = new Map<string, Codec>();
  readonly #list: Codec[] = [];

  /** @param codecs the codecs, later ones replacing earlier ones with the same content type */
  constructor(codecs: Iterable<Codec> = []) {
    for (const codec of codecs) this.add(codec);
  }

  /** Adds (or replaces) a codec for its content type and aliases. */
  add(codec: Codec): this {
    this.#list.push(codec);
    for (const type of [codec.contentType, ...(codec.aliases ?? [])]) {
      this.#byType.set(normalizeContentType(type), codec);
    }
    return this;
  }

  /** @returns the codec for a content type, or undefined */
  get(contentType: string): Codec | undefined {
    return this.#byType.get(contentType) ?? this.#byType.get(normalizeContentType(contentType));
  }

  /**
   * @returns the codec for a content type
   * @throws {@link MicroError} 415 naming the supported content types
   */
  require(contentType: string): Codec {
    const codec = this.get(contentType);
    if (codec) return codec;
    throw unsupportedMediaType(
      ErrorIds.codec,
      `unsupported content type "${contentType}"; supported: ${this.contentTypes().join(', ')}`,
    );
  }

  /** @returns every content type this set reads */
  contentTypes(): string[] {
    return [...this.#byType.keys()];
  }

  /** @returns the codecs in the order they were added */
  list(): readonly Codec[] {
    return this.#list;
  }
}
