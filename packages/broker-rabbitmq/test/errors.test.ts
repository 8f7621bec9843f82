import { describe, expect, it } from '@jest/globals';
import { isMicroError, MicroError, notFound } from '@micro/core';
import { IllegalOperationError } from 'amqplib';
import { errorCode, toMicroError } from '../src/errors.js';

function withCode(message: string, code: string | number): Error {
  return Object.assign(new Error(message), { code });
}

describe('error mapping', () => {
  it.each([
    ['a refused connection', withCode('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED'), 503],
    ['a reset connection', withCode('read ECONNRESET', 'ECONNRESET'), 503],
    ['an unknown host', withCode('getaddrinfo ENOTFOUND nowhere', 'ENOTFOUND'), 503],
    ['a connect timeout', new Error('connect ETIMEDOUT'), 503],
    ['a closed channel', new IllegalOperationError('Channel closed'), 503],
    ['a missed heartbeat', new Error('Heartbeat timeout'), 503],
    ['the server shutting down', withCode('Connection closed: 320 (CONNECTION-FORCED)', 320), 503],
    [
      'a refused login',
      new Error(
        'Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN"',
      ),
      401,
    ],
    [
      'an unknown vhost',
      new Error(
        'Handshake terminated by server: 530 (NOT-ALLOWED) with message "NOT_ALLOWED - vhost nope not found"',
      ),
      404,
    ],
    [
      'refused access to a queue',
      withCode('Operation failed: QueueDeclare; 403 (ACCESS-REFUSED)', 403),
      403,
    ],
    [
      'a missing exchange',
      withCode(
        'Channel closed by server: 404 (NOT-FOUND) with message "NOT_FOUND - no exchange \'x\'"',
        404,
      ),
      404,
    ],
    [
      'a queue declared with other properties',
      withCode('Operation failed: QueueDeclare; 406 (PRECONDITION-FAILED)', 406),
      409,
    ],
    ['an exclusive queue of another connection', withCode('405 (RESOURCE-LOCKED)', 405), 409],
    [
      'a header table too large',
      new RangeError(
        'Encoded field table (headers or arguments) exceeds the 65536 byte encoding buffer',
      ),
      413,
    ],
    ['content too large', withCode('311 (CONTENT-TOO-LARGE)', 311), 413],
    ['a malformed command', withCode('503 (COMMAND-INVALID)', 503), 400],
    ['anything else', new Error('something odd'), 500],
  ])('%s maps to %p', (_what, error, code) => {
    expect(errorCode(error)).toBe(code);
    const wrapped = toMicroError(error, 'do a thing');
    expect(isMicroError(wrapped)).toBe(true);
    expect(wrapped.code).toBe(code);
    expect(wrapped.id).toBe('go.micro.broker');
    expect(wrapped.cause).toBe(error);
    expect(wrapped.detail).toContain('rabbitmq: do a thing: ');
  });

  it('passes a MicroError through unchanged', () => {
    const original = notFound('x', 'gone');
    expect(toMicroError(original, 'whatever')).toBe(original);
    expect(errorCode(new MicroError('x', 'y', 413))).toBe(413);
  });

  it('wraps a non-Error throw as 500', () => {
    const wrapped = toMicroError('boom', 'work');
    expect(wrapped.code).toBe(500);
    expect(wrapped.detail).toBe('rabbitmq: work: boom');
  });
});
