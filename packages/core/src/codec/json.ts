import { Buffer } from 'node:buffer';
import { type Codec, codecError } from './codec.js';

/**
 * JSON (`application/json`). Reads Go's output too: `json.Encoder` ends every value
 * with a newline, which JSON.parse treats as white space. Writes no newline.
 */
export class JsonCodec implements Codec {
  readonly name = 'json';
  readonly contentType = 'application/json';

  marshal(value: unknown): Uint8Array {
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (error) {
      throw codecError(this.name, `cannot encode value: ${(error as Error).message}`, 500, error);
    }
    return Buffer.from(text ?? 'null');
  }

  unmarshal(data: Uint8Array): unknown {
    if (data.byteLength === 0) return undefined;
    const text = (
      Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    ).toString();
    try {
      return JSON.parse(text);
    } catch (error) {
      if (text.trim() === '') return undefined;
      throw codecError(this.name, `malformed JSON body: ${(error as Error).message}`, 400, error);
    }
  }
}

/** The shared JSON codec instance. */
export const jsonCodec: Codec = new JsonCodec();
