import { deflateSync, inflateSync } from 'node:zlib';

/**
 * go-micro's compact encoding for registry data in Consul tags and mDNS TXT
 * records: lowercase hex of zlib-deflated bytes.
 * @param text usually JSON
 */
export function encodeZlibHex(text: string): string {
  return deflateSync(Buffer.from(text, 'utf8')).toString('hex');
}

/** The largest record {@link decodeZlibHex} inflates by default: 1 MiB. */
export const MAX_DECODED_RECORD = 1024 * 1024;

/**
 * Reverses {@link encodeZlibHex}. Output is bounded, so a small packet from the
 * network cannot inflate into megabytes.
 * @param hex the encoded text
 * @param maxLength the most bytes the record may inflate to
 * @throws Error when the input is not hex of zlib data, or inflates past `maxLength`
 */
export function decodeZlibHex(hex: string, maxLength = MAX_DECODED_RECORD): string {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new Error('not a hex string');
  return inflateSync(Buffer.from(hex, 'hex'), { maxOutputLength: maxLength }).toString('utf8');
}
