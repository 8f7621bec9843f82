/**
 * Maps amqplib and socket errors to @micro's error codes, so no client-library
 * error crosses the Broker interface.
 */
import { ErrorIds, isMicroError, MicroError } from '@micro/core';

/** AMQP 0-9-1 reply codes RabbitMQ closes channels and connections with. */
export const AmqpReplyCode = {
  contentTooLarge: 311,
  connectionForced: 320,
  invalidPath: 402,
  accessRefused: 403,
  notFound: 404,
  resourceLocked: 405,
  preconditionFailed: 406,
  frameError: 501,
  syntaxError: 502,
  commandInvalid: 503,
  channelError: 504,
  unexpectedFrame: 505,
  resourceError: 506,
  notAllowed: 530,
  notImplemented: 540,
  internalError: 541,
} as const;

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ETIMEDOUT',
  'EADDRNOTAVAIL',
]);

function isErrorLike(value: unknown): value is Error & { code?: unknown } {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { message?: unknown }).message === 'string'
  );
}

/**
 * The @micro code for an error thrown by amqplib or the socket under it.
 * - 503: the server cannot be reached or the connection/channel is closed
 *   (socket errors, `IllegalOperationError`, connection-forced, resource errors)
 * - 401: the server refused the login (`ACCESS_REFUSED` during the handshake)
 * - 403: access to a vhost, exchange or queue refused
 * - 404: a vhost, exchange or queue that does not exist
 * - 409: a queue or exchange that exists with other properties (`PRECONDITION_FAILED`),
 *   or an exclusive queue locked by another connection (`RESOURCE_LOCKED`)
 * - 413: content or a header table too large
 * - 400: a malformed request (`SYNTAX_ERROR`, `COMMAND_INVALID`, a bad argument)
 * - 500: anything else
 * @param error anything amqplib threw or emitted
 * @returns an HTTP-like status code
 */
export function errorCode(error: unknown): number {
  if (isMicroError(error)) return error.code;
  // Duck-typed, not instanceof: errors from Node's own modules come from another
  // realm under test runners that sandbox globals
  if (!isErrorLike(error)) return 500;
  const { code } = error;
  if (typeof code === 'string' && UNREACHABLE.has(code)) return 503;
  if (error.name === 'IllegalOperationError') return 503;
  if (error.name === 'RangeError') return 413;
  if (typeof code === 'number') {
    switch (code) {
      case AmqpReplyCode.contentTooLarge:
        return 413;
      case AmqpReplyCode.accessRefused:
        return /login|authenticat|credential|password/i.test(error.message) ? 401 : 403;
      case AmqpReplyCode.notFound:
        return 404;
      case AmqpReplyCode.preconditionFailed:
      case AmqpReplyCode.resourceLocked:
        return 409;
      case AmqpReplyCode.syntaxError:
      case AmqpReplyCode.commandInvalid:
        return 400;
      case AmqpReplyCode.notAllowed:
        // RabbitMQ answers an unknown vhost with 530 NOT_ALLOWED
        return /vhost/i.test(error.message) ? 404 : 403;
      case AmqpReplyCode.connectionForced:
      case AmqpReplyCode.resourceError:
      case AmqpReplyCode.channelError:
        return 503;
      default:
        return 500;
    }
  }
  // The handshake failures amqplib reports as plain Errors
  if (/ACCESS.REFUSED/i.test(error.message)) return 401;
  if (/NOT.ALLOWED.*vhost/i.test(error.message)) return 404;
  if (
    /ETIMEDOUT|socket closed|unexpected close|connection clos|channel clos|channel ended|heartbeat timeout|handshake/i.test(
      error.message,
    )
  ) {
    return 503;
  }
  if (error.name === 'TypeError') return 400;
  return 500;
}

/**
 * Wraps an amqplib error in a {@link MicroError} with the right code and the
 * original as `cause`; a MicroError passes through unchanged.
 * @param error anything amqplib threw or emitted
 * @param what what was being done, e.g. `publish to orders`
 * @returns a MicroError with id `go.micro.broker`
 * @example
 * try { await channel.assertQueue(name, { durable: true }); }
 * catch (error) { throw toMicroError(error, `declare queue ${name}`); }
 */
export function toMicroError(error: unknown, what: string): MicroError {
  if (isMicroError(error)) return error;
  const message = isErrorLike(error) ? error.message : String(error);
  return new MicroError(ErrorIds.broker, `rabbitmq: ${what}: ${message}`, errorCode(error), {
    cause: error,
  });
}
