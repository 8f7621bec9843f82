import { deflateSync, inflateSync } from 'node:zlib';

/**
 * go-micro's compact encoding for registry data in Consul tags and mDNS TXT
 * records: lowercase hex of zlib-deflated bytes.
 * @param text usually JSON
 */
export function encodeZlibHex(text: string): string {
  return deflateSync(Buffer.from(text, 'utf8')).toString('hex');
}

/**
 * Reverses {@link encodeZlibHex}.
 * @throws Error when the input is not hex of zlib data
 */
export function decodeZlibHex(hex: string): string {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new Error('not a hex string');
  return inflateSync(Buffer.from(hex, 'hex')).toString('utf8');
}
