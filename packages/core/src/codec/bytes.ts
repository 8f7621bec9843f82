import { type Codec, codecError } from './codec.js';

/**
 * Raw bytes (`application/octet-stream`), as go-micro's `codec/bytes`: the body is
 * passed through untouched. Strings are written as UTF-8.
 */
export class BytesCodec implements Codec {
  readonly name = 'bytes';
  readonly contentType = 'application/octet-stream';

  marshal(value: unknown): Uint8Array {
    if (value instanceof Uint8Array) return value;
    if (value instanceof ArrayBuffer) return new Uint8Array(value);
    if (typeof value === 'string') return Buffer.from(value);
    if (value === undefined || value === null) return new Uint8Array(0);
    throw codecError(
      this.name,
      `cannot encode ${typeof value}: expected Uint8Array or string`,
      500,
    );
  }

  unmarshal(data: Uint8Array): Uint8Array {
    return data;
  }
}

/** The shared bytes codec instance. */
export const bytesCodec: Codec = new BytesCodec();
