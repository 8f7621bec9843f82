/**
 * Go's `encoding/json`, byte for byte, for the shapes go-micro puts on the wire:
 * strings, `map[string]string`, `[]byte` and structs without custom marshalers.
 * Registry records (registry/encoding.ts) and the broker envelope
 * (broker/envelope.ts) are built from these, so every plugin writes and reads
 * exactly what a Go service does.
 *
 * The rules matched (Go 1.22+, `encoding/json` v1):
 * - strings are HTML-safe (`<`, `>`, `&` as `\u003c`, `\u003e`, `\u0026`),
 *   U+2028/U+2029 are escaped, control characters use `\b \f \n \r \t` or
 *   `\u00xx`, and invalid UTF-16 (a lone surrogate, which Go sees as invalid
 *   UTF-8) is written as `\ufffd`;
 * - a map is written with its keys sorted by their UTF-8 bytes, a nil map as `null`;
 * - decoding matches a JSON key to a struct field case-insensitively (Unicode
 *   simple folding, so `ſ` matches `s` and the Kelvin sign matches `k`), ignores
 *   unknown keys, reads `null` as the zero value, and rejects a value of the wrong
 *   JSON type.
 */
import type { MicroError } from '../errors/errors.js';
import { setHeaderEntry } from '../transport/transport.js';
import { codecError } from './codec.js';

/** A JSON value as `JSON.parse` returns it, before its shape is checked. */
type JsonObject = Record<string, unknown>;

/**
 * The error of every Go JSON helper: 400, `go.micro.codec`, detail `json: <what>`.
 * @internal shared with registry/encoding.ts, not exported from the package
 */
export function goJsonError(detail: string): MicroError {
  return codecError('json', detail, 400);
}

/**
 * What a JSON value is, for error messages: `null`, `array`, `number`, …
 * @internal shared with registry/encoding.ts, not exported from the package
 */
export function jsonKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/**
 * A JSON object (not null, not an array).
 * @internal shared with registry/encoding.ts, not exported from the package
 */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `what.key`, or `what["odd key"]` when the key would not read as a path segment. */
function member(what: string, key: string): string {
  return /^[A-Za-z_$][\w$-]*$/.test(key) ? `${what}.${key}` : `${what}[${JSON.stringify(key)}]`;
}

// ---------------------------------------------------------------------------------------
// Encoding

const SHORT_ESCAPES: Readonly<Record<number, string>> = {
  8: '\\b',
  9: '\\t',
  10: '\\n',
  12: '\\f',
  13: '\\r',
  34: '\\"',
  92: '\\\\',
};

/** Anything {@link encodeGoString} writes other than as itself. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point, Go escapes them
const NEEDS_ESCAPE = /[\u0000-\u001f"\\<>&\u2028\u2029\ud800-\udfff]/;

/**
 * A JSON string literal exactly as Go's `encoding/json` writes it: HTML-safe
 * (`<`, `>`, `&` as `\u003c`, `\u003e`, `\u0026`), U+2028 and U+2029 escaped,
 * control characters as `\b \f \n \r \t` or `\u00xx` (DEL stays as it is), and
 * a lone surrogate written as `\ufffd`, the replacement Go makes for invalid UTF-8.
 * @param value the string to quote
 * @returns the quoted literal, quotes included
 * @example
 * encodeGoString('<a href="x">'); // '"\\u003ca href=\\"x\\"\\u003e"'
 */
export function encodeGoString(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return `"${value}"`;
  let out = '"';
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    let replacement: string | undefined;
    if (code < 0x20 || code === 0x22 || code === 0x5c) {
      replacement = SHORT_ESCAPES[code] ?? `\\u00${code.toString(16).padStart(2, '0')}`;
    } else if (code === 0x3c || code === 0x3e || code === 0x26) {
      replacement = `\\u00${code.toString(16)}`;
    } else if (code === 0x2028 || code === 0x2029) {
      replacement = `\\u${code.toString(16)}`;
    } else if (code >= 0xd800 && code <= 0xdfff) {
      const next = value.charCodeAt(i + 1);
      if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        i++; // a valid pair is written as it is
        continue;
      }
      replacement = '\\ufffd';
    }
    if (replacement === undefined) continue;
    out += value.slice(start, i) + replacement;
    start = i + 1;
  }
  return `${out}${value.slice(start)}"`;
}

/** The code point at `index` and its length in UTF-16 units; a lone surrogate reads as U+FFFD. */
function codePointAt(text: string, index: number): [point: number, width: number] {
  const code = text.charCodeAt(index);
  if (code < 0xd800 || code > 0xdfff) return [code, 1];
  const next = text.charCodeAt(index + 1);
  if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
    return [((code - 0xd800) << 10) + (next - 0xdc00) + 0x10000, 2];
  }
  return [0xfffd, 1];
}

/**
 * Go's order of map keys: by their UTF-8 bytes, which is code point order (not
 * the UTF-16 order of `Array.prototype.sort`). A lone surrogate sorts as U+FFFD,
 * the character it is written as. Allocates nothing.
 * @param a a key
 * @param b another key
 * @returns negative when `a` comes first, positive when `b` does, 0 when equal
 * @example
 * ['\u{1F600}', '\uFFFD', '9', '10'].sort(compareGoMapKeys); // ['10', '9', '\uFFFD', '\u{1F600}']
 */
export function compareGoMapKeys(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(j);
    if (x === y && (x < 0xd800 || x > 0xdfff)) {
      i++;
      j++;
      continue;
    }
    const [p, pw] = codePointAt(a, i);
    const [q, qw] = codePointAt(b, j);
    if (p !== q) return p - q;
    i += pw;
    j += qw;
  }
  return a.length - i - (b.length - j);
}

/**
 * A Go `map[string]string` as `json.Marshal` writes it: keys sorted by their
 * UTF-8 bytes, strings escaped as {@link encodeGoString}, `null` for a nil
 * (null or undefined) map.
 * @param map the map
 * @param what how error messages name the map, e.g. `metadata`
 * @default what `map`
 * @returns the JSON text
 * @throws {@link MicroError} 400 (`go.micro.codec`) when the map is not an object or a value is not a string
 * @example
 * encodeGoStringMap({ b: '2', a: '<1>' }); // '{"a":"\\u003c1\\u003e","b":"2"}'
 */
export function encodeGoStringMap(
  map: Readonly<Record<string, string>> | null | undefined,
  what = 'map',
): string {
  if (map === null || map === undefined) return 'null';
  if (!isJsonObject(map))
    throw goJsonError(`${what} is not an object of strings (got ${jsonKind(map)})`);
  const keys = Object.keys(map).sort(compareGoMapKeys);
  let out = '{';
  for (const key of keys) {
    const value = map[key];
    if (typeof value !== 'string') {
      throw goJsonError(`${member(what, key)} is not a string (got ${jsonKind(value)})`);
    }
    out += `${out.length > 1 ? ',' : ''}${encodeGoString(key)}:${encodeGoString(value)}`;
  }
  return `${out}}`;
}

// ---------------------------------------------------------------------------------------
// Decoding

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const SURROGATE = /[\ud800-\udfff]/;

/** Go decodes `"\ud800"` (a lone surrogate escape) as U+FFFD. */
function wellFormed(text: string): string {
  // The replacement (with its lookbehind) only where there is a surrogate at all.
  return SURROGATE.test(text) ? text.replace(LONE_SURROGATE, '\ufffd') : text;
}

/** ASCII letters fold to upper case; ſ (U+017F) and K (U+212A) fold with s and k, as in Go. */
function foldUnit(code: number): number {
  if (code >= 0x61 && code <= 0x7a) return code - 0x20;
  if (code === 0x017f) return 0x53;
  if (code === 0x212a) return 0x4b;
  return code;
}

/** Whether a JSON key names the field of ASCII JSON name `name`, ignoring case as Go does. */
function matchesField(key: string, name: string): boolean {
  if (key === name) return true;
  if (key.length !== name.length) return false;
  for (let i = 0; i < key.length; i++) {
    if (foldUnit(key.charCodeAt(i)) !== foldUnit(name.charCodeAt(i))) return false;
  }
  return true;
}

/**
 * Reads the fields of a Go struct from a parsed JSON object as `json.Unmarshal`
 * matches them: a key names a field when it equals the field's JSON name ignoring
 * case (Go's Unicode simple folding), unknown keys are ignored, and when two keys
 * name one field the later one wins.
 *
 * (Go would merge a repeated object or map into the earlier one; no go-micro
 * writer repeats a key. Keys repeated exactly are collapsed by `JSON.parse` first.)
 * @param json the parsed JSON value
 * @param what how error messages name the struct, e.g. `service`
 * @param names the struct's JSON field names, ASCII, e.g. `['name', 'version']`
 * @returns the value of each field present, or null for a JSON `null` (Go leaves the struct as it is)
 * @throws {@link MicroError} 400 (`go.micro.codec`) when the value is not an object
 * @example
 * readGoFields(JSON.parse('{"NAME":"a","x":1}'), 'service', ['name', 'version']); // { name: 'a' }
 */
export function readGoFields<Name extends string>(
  json: unknown,
  what: string,
  names: readonly Name[],
): Partial<Record<Name, unknown>> | null {
  if (json === null || json === undefined) return null;
  if (!isJsonObject(json)) throw goJsonError(`${what} is not an object (got ${jsonKind(json)})`);
  const fields: Partial<Record<Name, unknown>> = {};
  for (const key of Object.keys(json)) {
    for (let i = 0; i < names.length; i++) {
      if (matchesField(key, names[i]!)) {
        fields[names[i]!] = json[key];
        break;
      }
    }
  }
  return fields;
}

/**
 * A Go `string` field from parsed JSON: `null` or absent reads as `""`, a lone
 * surrogate escape as U+FFFD, anything but a string is refused.
 * @param json the parsed JSON value
 * @param what how error messages name the field
 * @returns the string
 * @throws {@link MicroError} 400 (`go.micro.codec`) when the value is not a string
 */
export function decodeGoString(json: unknown, what: string): string {
  if (json === null || json === undefined) return '';
  if (typeof json !== 'string')
    throw goJsonError(`${what} is not a string (got ${jsonKind(json)})`);
  return wellFormed(json);
}

/**
 * A Go `map[string]string` from parsed JSON: `null` or absent reads as null (a nil
 * map), a `null` value as `""`, anything but an object of strings is refused.
 * @param json the parsed JSON value
 * @param what how error messages name the map
 * @returns the map, or null
 * @throws {@link MicroError} 400 (`go.micro.codec`) when the value is not an object, or a value is not a string
 * @example
 * decodeGoStringMap(JSON.parse('{"a":"1","b":null}'), 'metadata'); // { a: '1', b: '' }
 */
export function decodeGoStringMap(json: unknown, what: string): Record<string, string> | null {
  if (json === null || json === undefined) return null;
  if (!isJsonObject(json)) throw goJsonError(`${what} is not an object (got ${jsonKind(json)})`);
  const map: Record<string, string> = {};
  for (const key of Object.keys(json)) {
    const value = json[key];
    if (value !== null && typeof value !== 'string') {
      throw goJsonError(`${member(what, key)} is not a string (got ${jsonKind(value)})`);
    }
    setHeaderEntry(map, wellFormed(key), value === null ? '' : wellFormed(value));
  }
  return map;
}

/**
 * A Go slice of pointers (`[]*T`) from parsed JSON: `null` or absent reads as null
 * (a nil slice). A `null` element, a nil pointer in Go, is left out: the
 * TypeScript types have no place for it, and go-micro never writes one.
 * @param json the parsed JSON value
 * @param what how error messages name the list
 * @param item decodes one element; its second argument names it, e.g. `nodes[2]`
 * @returns the elements, or null
 * @throws {@link MicroError} 400 (`go.micro.codec`) when the value is not an array, or what `item` throws
 */
export function decodeGoList<T>(
  json: unknown,
  what: string,
  item: (json: unknown, what: string) => T | null,
): T[] | null {
  if (json === null || json === undefined) return null;
  if (!Array.isArray(json)) throw goJsonError(`${what} is not an array (got ${jsonKind(json)})`);
  const out: T[] = [];
  for (let i = 0; i < json.length; i++) {
    const element = json[i];
    if (element === null) continue;
    const decoded = item(element, `${what}[${i}]`);
    if (decoded !== null) out.push(decoded);
  }
  return out;
}

/**
 * Decodes padded standard base64 (Go's `base64.StdEncoding`: the alphabet
 * `A-Z a-z 0-9 + /`, then at most two `=`, a multiple of 4 long) into a new array,
 * or returns null when the text is anything else.
 *
 * One pass of Node's decoder does the checking, instead of a regular expression over
 * the text first (which cost twice the decoding). It reads `A-Z a-z 0-9 + /` and the
 * URL alphabet's `-` `_` as data and skips or stops at anything else, so `n` data
 * characters give at most ⌊3n/4⌋ bytes. Text of length L ending in p `=` (p ≤ 2)
 * must give 3L/4 − p bytes; any other character (a space, an `=` before the end, a
 * third `=`) leaves at most L − p − 1 data characters and so fewer bytes. What is
 * left to refuse here: the URL alphabet, and characters above U+007F (Node reads only
 * the low byte of a UTF-16 unit, so `Ň` would read as `G`).
 * @internal shared with broker/envelope.ts, not exported from the package
 */
export function decodeStdBase64(text: string): Uint8Array | null {
  const length = text.length;
  if (length % 4 !== 0) return null;
  if (length === 0) return new Uint8Array(0);
  const padding =
    text.charCodeAt(length - 1) !== 0x3d ? 0 : text.charCodeAt(length - 2) !== 0x3d ? 1 : 2;
  const size = (length / 4) * 3 - padding;
  if (
    Buffer.byteLength(text, 'utf8') !== length || // ASCII only
    text.includes('-') ||
    text.includes('_')
  ) {
    return null;
  }
  // From Node's buffer pool, as Buffer.from(text, 'base64') takes it: a fresh
  // ArrayBuffer of 1 KiB costs several times the decoding.
  const buffer = Buffer.allocUnsafe(size);
  if (buffer.write(text, 'base64') !== size) return null;
  return new Uint8Array(buffer.buffer, buffer.byteOffset, size);
}

/**
 * A Go `[]byte` from parsed JSON: a string of standard, padded base64 (Go ignores
 * `\r` and `\n` in it), `null` or absent as null (a nil slice). Refuses what Go's
 * decoder refuses: missing padding, the URL alphabet, spaces, data after padding.
 *
 * (Go also reads a JSON array of numbers 0–255 as bytes; no Go writer produces one,
 * and it is refused here.)
 * @param json the parsed JSON value
 * @param what how error messages name the field
 * @returns the bytes, or null; a small result may share its `ArrayBuffer` with other
 *   buffers (Node's pool, as `Buffer.from` does), so read it through `byteOffset` and
 *   `byteLength`
 * @throws {@link MicroError} 400 (`go.micro.codec`) when the value is not a base64 string
 * @example
 * decodeGoBytes('aGk=', 'Body'); // Uint8Array [0x68, 0x69]
 */
export function decodeGoBytes(json: unknown, what: string): Uint8Array | null {
  if (json === null || json === undefined) return null;
  if (typeof json !== 'string')
    throw goJsonError(`${what} is not a base64 string (got ${jsonKind(json)})`);
  const text = json.includes('\n') || json.includes('\r') ? json.replace(/[\r\n]/g, '') : json;
  const bytes = decodeStdBase64(text);
  if (bytes === null) throw goJsonError(`${what} is not standard base64`);
  return bytes;
}
