import { status as Status } from '@grpc/grpc-js';
import { ErrorIds, MicroError } from '@micro/core';

/** A gRPC status as grpc-js reports it. */
export interface GrpcStatus {
  code: number;
  details: string;
}

/**
 * The MicroError code for a gRPC status that ended a transport stream. The
 * transport carries go-micro's own errors inside messages, so a status here
 * describes the stream, not a handler: mostly the peer or the connection going away.
 *
 * | gRPC status | code | why |
 * |---|---|---|
 * | OK | 503 | the peer ended the conversation; nothing more will come |
 * | CANCELLED, UNAVAILABLE, ABORTED | 503 | the peer or the connection went away |
 * | DEADLINE_EXCEEDED | 408 | |
 * | RESOURCE_EXHAUSTED | 413 | a message over a size limit (grpc-go's, grpc-js's and this transport's wording) |
 * | RESOURCE_EXHAUSTED, anything else | 503 | e.g. the connection dropped with ENHANCE_YOUR_CALM |
 * | INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE | 400 | |
 * | UNAUTHENTICATED | 401 | |
 * | PERMISSION_DENIED | 403 | |
 * | NOT_FOUND | 404 | |
 * | UNIMPLEMENTED | 501 | the peer does not serve go-micro's transport service |
 * | anything else | 500 | |
 *
 * @param code a gRPC status code
 * @param details the status details, which tell a size limit from other exhaustion
 * @returns the HTTP-like code of the MicroError
 */
export function microCode(code: number, details = ''): number {
  switch (code) {
    case Status.OK:
    case Status.CANCELLED:
    case Status.UNAVAILABLE:
    case Status.ABORTED:
      return 503;
    case Status.DEADLINE_EXCEEDED:
      return 408;
    case Status.RESOURCE_EXHAUSTED:
      // Also what grpc-js reports when a server drops the connection with
      // ENHANCE_YOUR_CALM (too many pings, too many streams): not a size problem.
      return MESSAGE_TOO_LARGE.test(details) ? 413 : 503;
    case Status.INVALID_ARGUMENT:
    case Status.FAILED_PRECONDITION:
    case Status.OUT_OF_RANGE:
      return 400;
    case Status.UNAUTHENTICATED:
      return 401;
    case Status.PERMISSION_DENIED:
      return 403;
    case Status.NOT_FOUND:
      return 404;
    case Status.UNIMPLEMENTED:
      return 501;
    default:
      return 500;
  }
}

/**
 * How gRPC implementations word a message over the size limit: grpc-go "grpc:
 * received message larger than max", grpc-js "Received message larger than max",
 * "Sent message larger than max", this transport "over the maximum".
 */
const MESSAGE_TOO_LARGE = /larger than max|over the maximum/i;

/** The gRPC status name, e.g. `UNAVAILABLE`. */
export function statusName(code: number): string {
  return (Status as unknown as Record<number, string>)[code] ?? `status ${code}`;
}

/** An Error carrying a gRPC status, kept as the `cause` of a MicroError. */
export class GrpcStatusError extends Error {
  /** The gRPC status code. */
  readonly code: number;
  /** The status details the peer or grpc-js gave. */
  readonly details: string;

  /** @param status the status that ended the stream */
  constructor(status: GrpcStatus) {
    super(`${statusName(status.code)}: ${status.details}`);
    this.name = 'GrpcStatusError';
    this.code = status.code;
    this.details = status.details;
  }
}

/**
 * Wraps the status that ended a stream in a MicroError with the code of
 * {@link microCode} and the status as its cause.
 * @param status the gRPC status
 * @param remote the peer's address, for the detail
 */
export function statusError(status: GrpcStatus, remote: string): MicroError {
  const code = microCode(status.code, status.details);
  const detail =
    status.code === Status.OK
      ? `stream closed by ${remote}`
      : `stream with ${remote} ended: ${statusName(status.code)}${status.details ? ` (${status.details})` : ''}`;
  return new MicroError(ErrorIds.transport, detail, code, { cause: new GrpcStatusError(status) });
}
