import { describe, expect, it } from '@jest/globals';
import { ErrorIds, isMicroError, notFound } from '@micro/core';
import { ErrorCode, NatsError } from 'nats';
import { toMicroError } from '../src/index.js';

describe('toMicroError', () => {
  const cases: [ErrorCode, number][] = [
    [ErrorCode.ConnectionRefused, 503],
    [ErrorCode.Timeout, 503],
    [ErrorCode.Disconnect, 503],
    [ErrorCode.ConnectionClosed, 503],
    [ErrorCode.ConnectionDraining, 503],
    [ErrorCode.Tls, 503],
    [ErrorCode.AuthorizationViolation, 401],
    [ErrorCode.AuthenticationExpired, 401],
    [ErrorCode.PermissionsViolation, 403],
    [ErrorCode.MaxPayloadExceeded, 413],
    [ErrorCode.BadSubject, 400],
  ];

  it.each(cases)('maps nats %s to %d with the original as cause', (natsCode, expected) => {
    const original = NatsError.errorForCode(natsCode);
    const error = toMicroError(original, 'cannot publish to t');
    expect(isMicroError(error)).toBe(true);
    expect(error.code).toBe(expected);
    expect(error.id).toBe(ErrorIds.broker);
    expect(error.detail).toContain('nats: cannot publish to t');
    expect(error.cause).toBe(original);
  });

  it('maps an unknown error to the fallback code and keeps its message', () => {
    const original = Object.assign(new Error('getaddrinfo ENOTFOUND nats-1'), {
      code: 'ENOTFOUND',
    });
    const error = toMicroError(original, 'cannot connect to nats://nats-1:4222');
    expect(error.code).toBe(503);
    expect(error.detail).toBe(
      'nats: cannot connect to nats://nats-1:4222: getaddrinfo ENOTFOUND nats-1',
    );
    expect(toMicroError('odd', 'x', 500).code).toBe(500);
  });

  it('passes a MicroError through', () => {
    const original = notFound('svc', 'gone');
    expect(toMicroError(original, 'x')).toBe(original);
  });
});
