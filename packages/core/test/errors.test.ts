import { describe, expect, it } from '@jest/globals';
import {
  badRequest,
  fromError,
  isMicroError,
  isRetryable,
  MicroError,
  notFound,
  parseError,
  timeout,
  unavailable,
} from '../src/index.js';

describe('MicroError', () => {
  it("serialises to go-micro's error JSON", () => {
    const error = timeout('go.micro.client', 'call timeout: context deadline exceeded');
    expect(JSON.stringify(error)).toBe(
      '{"id":"go.micro.client","code":408,"detail":"call timeout: context deadline exceeded","status":"Request Timeout"}',
    );
    expect(String(error)).toBe(JSON.stringify(error));
    expect(error.message).toBe('call timeout: context deadline exceeded');
  });

  it('has helpers with the right codes and keeps the cause off the wire', () => {
    const cause = new Error('ECONNREFUSED');
    const error = unavailable('go.micro.transport', 'connection refused', cause);
    expect(error.code).toBe(503);
    expect(error.cause).toBe(cause);
    expect(error.toJSON()).not.toHaveProperty('cause');
    expect([badRequest('x', 'y').code, notFound('x', 'y').code]).toEqual([400, 404]);
  });

  it('is recognised across copies of the library', () => {
    const foreign = Object.create(Object.getPrototypeOf(new MicroError('a', 'b', 500)));
    expect(isMicroError(new MicroError('a', 'b', 500))).toBe(true);
    expect(new MicroError('a', 'b', 500) instanceof MicroError).toBe(true);
    // An object branded by another copy of core: same Symbol.for brand, different class.
    const other = { [Symbol.for('@micro/core/MicroError')]: true, code: 500 };
    expect(isMicroError(other)).toBe(true);
    expect(other instanceof MicroError).toBe(true);
    expect(isMicroError(new Error('plain'))).toBe(false);
    expect(foreign).toBeDefined();
  });

  it('parses go-micro JSON, and keeps non-JSON text as the detail with code 0', () => {
    const parsed = parseError(
      '{"id":"greeter","code":404,"detail":"not here","status":"Not Found"}',
    );
    expect(parsed.toJSON()).toEqual({
      id: 'greeter',
      code: 404,
      detail: 'not here',
      status: 'Not Found',
    });
    const text = parseError("rpc: can't find service Greeter");
    expect([text.code, text.detail]).toEqual([0, "rpc: can't find service Greeter"]);
  });

  it('turns anything thrown into a MicroError', () => {
    const micro = badRequest('x', 'y');
    expect(fromError(micro)).toBe(micro);
    expect(fromError('{"code":409,"detail":"taken"}').code).toBe(409);
    const wrapped = fromError(new Error('boom'));
    expect([wrapped.code, wrapped.detail]).toEqual([0, 'boom']);
  });

  it('retries only unreachable nodes and timeouts', () => {
    expect(isRetryable(unavailable('x', 'down'))).toBe(true);
    expect(isRetryable(timeout('x', 'slow'))).toBe(true);
    expect(isRetryable(new MicroError('x', 'handler failed', 500))).toBe(false);
    expect(isRetryable(new Error('plain'))).toBe(false);
  });
});
