import { status } from '@grpc/grpc-js';
import { describe, expect, it } from '@jest/globals';
import { isMicroError } from '@micro/core';
import { microCode, statusError } from '../src/errors.js';
import { GrpcStatusError } from '../src/index.js';

describe('gRPC status to MicroError', () => {
  it.each([
    [status.OK, 503],
    [status.CANCELLED, 503],
    [status.UNAVAILABLE, 503],
    [status.ABORTED, 503],
    [status.DEADLINE_EXCEEDED, 408],
    [status.INVALID_ARGUMENT, 400],
    [status.FAILED_PRECONDITION, 400],
    [status.OUT_OF_RANGE, 400],
    [status.UNAUTHENTICATED, 401],
    [status.PERMISSION_DENIED, 403],
    [status.NOT_FOUND, 404],
    [status.UNIMPLEMENTED, 501],
    [status.INTERNAL, 500],
    [status.UNKNOWN, 500],
    [status.DATA_LOSS, 500],
    [99, 500],
  ])('maps status %i to %i', (code, expected) => {
    expect(microCode(code)).toBe(expected);
  });

  it.each([
    ['grpc: received message larger than max (4194317 vs. 4194304)', 413],
    ['Received message larger than max (5000000 vs 4259856)', 413],
    ['Sent message larger than max (5000000 vs. 4259856)', 413],
    ['received a message body of 70000 bytes, over the maximum of 65536', 413],
    ['Bandwidth exhausted or memory limit exceeded', 503],
    ['quota exceeded', 503],
  ])('maps RESOURCE_EXHAUSTED %j to %i', (details, expected) => {
    expect(microCode(status.RESOURCE_EXHAUSTED, details)).toBe(expected);
  });

  it('wraps the status as the cause, with the peer in the detail', () => {
    const error = statusError(
      { code: status.RESOURCE_EXHAUSTED, details: 'Received message larger than max' },
      '127.0.0.1:9000',
    );
    expect(isMicroError(error)).toBe(true);
    expect(error.toJSON()).toEqual({
      id: 'go.micro.transport',
      code: 413,
      detail:
        'stream with 127.0.0.1:9000 ended: RESOURCE_EXHAUSTED (Received message larger than max)',
      status: 'Payload Too Large',
    });
    expect(error.cause).toBeInstanceOf(GrpcStatusError);
    expect((error.cause as GrpcStatusError).code).toBe(status.RESOURCE_EXHAUSTED);
  });

  it('reports a clean end by the peer as a 503 closed stream', () => {
    const error = statusError({ code: status.OK, details: 'OK' }, '127.0.0.1:9000');
    expect([error.code, error.detail]).toEqual([503, 'stream closed by 127.0.0.1:9000']);
  });
});
