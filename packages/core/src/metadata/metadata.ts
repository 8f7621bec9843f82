/**
 * Request metadata: a string map whose keys match case-insensitively, because
 * HTTP canonicalises (`Micro-Id`), gRPC lower-cases and brokers keep the raw key.
 */

/** Anything a {@link Metadata} can be built from. */
export type MetadataInit =
  | Metadata
  | Readonly<Record<string, string>>
  | Iterable<readonly [string, string]>;

/**
 * A case-insensitive string map that keeps the case a key was first set with.
 *
 * @example
 * const md = new Metadata({ 'Micro-Id': '1' });
 * md.get('micro-id'); // '1'
 */
export class Metadata implements Iterable<[string, string]> {
  readonly #entries = new Map<string, [key: string, value: string]>();

  /** @param init initial entries */
  constructor(init?: MetadataInit) {
    if (init === undefined) return;
    if (init instanceof Metadata || Symbol.iterator in init) {
      for (const [key, value] of init as Iterable<readonly [string, string]>) this.set(key, value);
    } else {
      for (const key of Object.keys(init)) this.set(key, (init as Record<string, string>)[key]!);
    }
  }

  /** @returns the value for a key, matched case-insensitively */
  get(key: string): string | undefined {
    return this.#entries.get(key.toLowerCase())?.[1];
  }

  /** Sets a value, replacing any key that differs only in case. */
  set(key: string, value: string): this {
    const lower = key.toLowerCase();
    const existing = this.#entries.get(lower);
    this.#entries.set(lower, [existing?.[0] ?? key, value]);
    return this;
  }

  /** @returns whether the key is present, matched case-insensitively */
  has(key: string): boolean {
    return this.#entries.has(key.toLowerCase());
  }

  /** @returns whether a key was removed */
  delete(key: string): boolean {
    return this.#entries.delete(key.toLowerCase());
  }

  /** The number of keys. */
  get size(): number {
    return this.#entries.size;
  }

  /** Iterates `[key, value]` pairs with the keys' original case. */
  *[Symbol.iterator](): IterableIterator<[string, string]> {
    for (const [key, value] of this.#entries.values()) yield [key, value];
  }

  /** @returns a plain object with the keys' original case */
  toJSON(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [key, value] of this.#entries.values()) out[key] = value;
    return out;
  }
}

/**
 * Reads a header from a plain header map case-insensitively: the exact key first
 * (the fast path for headers @micro wrote itself), then any case.
 * @param header a message header map
 * @param name the header name
 */
export function getHeader(
  header: Readonly<Record<string, string>>,
  name: string,
): string | undefined {
  const exact = header[name];
  if (exact !== undefined) return exact;
  const lower = name.toLowerCase();
  for (const key in header) {
    if (key.toLowerCase() === lower) return header[key];
  }
  return undefined;
}
