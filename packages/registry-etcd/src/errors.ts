import {
  badRequest,
  ErrorIds,
  forbidden,
  internalServerError,
  isMicroError,
  type MicroError,
  payloadTooLarge,
  unauthorized,
  unavailable,
} from '@micro/core';
import {
  ClientClosedError,
  EtcdAuthenticationFailedError,
  EtcdInvalidAuthTokenError,
  EtcdPermissionDeniedError,
  EtcdWatchStreamEnded,
  GRPCCancelledError,
  GRPCDeadlineExceededError,
  GRPCInvalidArgumentError,
  GRPCResourceExhastedError,
  GRPCUnauthenticatedError,
  isRecoverableError,
} from 'etcd3';

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Maps an etcd3 (gRPC) failure to the MicroError callers see, keeping it as `cause`.
 * A server that cannot be reached or does not answer in time is a 503, so
 * callers retry; credentials problems are 401/403; a record too large is 413.
 * @param error what etcd3 threw
 * @param what the operation, for the message, e.g. `get service helloworld`
 */
export function toMicroError(error: unknown, what: string): MicroError {
  if (isMicroError(error)) return error;
  const message = messageOf(error);
  const detail = `etcd ${what}: ${message}`;
  if (
    error instanceof EtcdAuthenticationFailedError ||
    error instanceof EtcdInvalidAuthTokenError ||
    error instanceof GRPCUnauthenticatedError ||
    // etcd's answer to a call without credentials when authentication is on
    /etcdserver: user name is empty/.test(message)
  ) {
    return unauthorized(ErrorIds.registry, detail, error);
  }
  if (error instanceof EtcdPermissionDeniedError)
    return forbidden(ErrorIds.registry, detail, error);
  if (/too large|larger than max/i.test(message)) {
    return payloadTooLarge(ErrorIds.registry, detail, error);
  }
  if (error instanceof GRPCInvalidArgumentError)
    return badRequest(ErrorIds.registry, detail, error);
  if (
    error instanceof GRPCDeadlineExceededError ||
    error instanceof GRPCResourceExhastedError ||
    error instanceof GRPCCancelledError ||
    error instanceof ClientClosedError ||
    error instanceof EtcdWatchStreamEnded ||
    (error instanceof Error && isRecoverableError(error)) ||
    (error instanceof Error && error.name === 'BrokenCircuitError')
  ) {
    return unavailable(ErrorIds.registry, `etcd unreachable: ${what}: ${message}`, error);
  }
  return internalServerError(ErrorIds.registry, detail, error);
}

/** The 503 of an operation that did not finish within the registry's timeout. */
export function timedOut(what: string, timeout: number): MicroError {
  return unavailable(
    ErrorIds.registry,
    `etcd unreachable: ${what}: no answer within ${timeout} ms`,
  );
}
