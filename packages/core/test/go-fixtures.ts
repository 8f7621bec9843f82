import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMicroError } from '../src/index.js';

/**
 * Printed by a throwaway Go 1.26 program (kept out of the repository) that marshals
 * and unmarshals structs with go-micro's registry/registry.go and broker/broker.go
 * layout: `encode` is `json.Marshal` of the inputs below, `serviceDecode` is
 * `json.Unmarshal` into `*registry.Service` then `json.Marshal` again (or Go's error).
 */
export const go = JSON.parse(readFileSync(join(__dirname, 'fixtures/go-json.json'), 'utf8')) as {
  go: string;
  encode: Record<
    'service' | 'zero' | 'empties' | 'node' | 'value' | 'endpoint' | 'stringmap',
    string
  >;
  envelope: Record<'tricky' | 'nil' | 'empty' | 'small', string>;
  envelopeDecode: GoDecoded[];
  serviceDecode: GoDecoded[];
};

export interface GoDecoded {
  input: string;
  error?: string;
  result?: string;
}

/** The map the Go program marshals: escapes, byte order of keys, integer-like keys. */
export const tricky: Record<string, string> = {
  z: '\x00\x01\b\t\n\f\r\x1f\x7f',
  é: '\u2028\u2029',
  a: '😀',
  '\uff5e': 'x',
  '😀': 'y',
  '': 'empty',
  '10': 'ten',
  '9': 'nine',
  B: '<a href="x">&amp;</a>',
  'q"\\': '\ufffd',
};

/** The error a call throws, as [code, message]; [0, ''] when it does not throw. */
export function thrown(action: () => unknown): [number, string] {
  try {
    action();
  } catch (error) {
    return isMicroError(error) ? [error.code, error.message] : [-1, String(error)];
  }
  return [0, ''];
}
