/**
 * go-micro's header names (transport/headers/headers.go). Written in the case Go's
 * HTTP layer canonicalises them to; read case-insensitively.
 */
export const Headers = {
  id: 'Micro-Id',
  service: 'Micro-Service',
  endpoint: 'Micro-Endpoint',
  method: 'Micro-Method',
  stream: 'Micro-Stream',
  error: 'Micro-Error',
  topic: 'Micro-Topic',
  contentType: 'Content-Type',
  accept: 'Accept',
  /** The caller's remaining budget in nanoseconds, as go-micro sends it. */
  timeout: 'Timeout',
} as const;

/** The `Micro-Error` value that ends a stream (go-micro's `lastStreamResponseError`). */
export const END_OF_STREAM = 'EOS';

/** Headers that describe the transport conversation rather than the caller's metadata. */
export const PROTOCOL_HEADERS: ReadonlySet<string> = new Set(
  Object.values(Headers).map((name) => name.toLowerCase()),
);
