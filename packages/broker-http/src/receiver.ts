/**
 * The receiving side's HTTP plumbing: reading a request body without ever holding
 * more than the limit, and answering with go-micro's error JSON.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorIds, type MicroError, payloadTooLarge } from '@micro/core';
import { errorBody } from './wire.js';

/**
 * Bytes of an oversized body read and thrown away after the 413 was sent, so the
 * sender (which may still be writing) reads the answer instead of a reset
 * connection; past this the connection is closed.
 */
const DISCARD_LIMIT = 16 * 1024 * 1024;

/** The sender went away before the body was complete: there is nobody to answer. */
export class Aborted extends Error {}

/**
 * Reads a request body of at most `limit` bytes.
 * @param request the incoming request
 * @param limit the largest body accepted, in bytes
 * @returns the body
 * @throws {@link MicroError} 413 as soon as the body passes the limit (the rest is
 *   discarded unread, up to a bound); {@link Aborted} when the sender disconnects
 */
export function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length']);
    const tooLarge = () =>
      payloadTooLarge(
        ErrorIds.broker,
        Number.isFinite(declared) && declared > limit
          ? `message of ${declared} bytes exceeds the limit of ${limit} bytes`
          : `message exceeds the limit of ${limit} bytes`,
      );
    let over = false;
    let discarded = 0;
    const chunks: Buffer[] = [];
    let size = 0;
    const overflow = () => {
      over = true;
      chunks.length = 0;
      reject(tooLarge());
    };
    if (Number.isFinite(declared) && declared > limit) overflow();
    request.on('data', (chunk: Buffer) => {
      if (over) {
        discarded += chunk.length;
        if (discarded > DISCARD_LIMIT) request.destroy();
        return;
      }
      size += chunk.length;
      if (size > limit) {
        overflow();
        return;
      }
      chunks.push(chunk);
    });
    request.once('end', () => {
      if (!over) resolve(Buffer.concat(chunks, size));
    });
    request.once('close', () => {
      if (!over && !request.complete) reject(new Aborted('the sender disconnected'));
    });
    request.once('error', () => {
      if (!over) reject(new Aborted('the sender disconnected'));
    });
  });
}

/**
 * Answers a request: an empty body for success, go-micro's error JSON otherwise.
 * Does nothing when the response was already sent or the connection is gone.
 * @param response where to answer
 * @param status the HTTP status
 * @param error the error to put in the body
 * @param headers extra response headers
 */
export function answer(
  response: ServerResponse,
  status: number,
  error?: MicroError,
  headers: Record<string, string> = {},
): void {
  if (response.headersSent || response.destroyed) return;
  if (!error) {
    response.writeHead(status, { 'Content-Length': '0', ...headers });
    response.end();
    return;
  }
  const body = errorBody(error);
  response.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(body)),
    ...headers,
  });
  response.end(body);
}
