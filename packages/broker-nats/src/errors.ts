import { ErrorIds, isError, isMicroError, MicroError } from '@micro/core';

// nats.js v2 `ErrorCode` values (NatsError.code), grouped by the go-micro code
// they become. Node socket errors (ECONNREFUSED, ENOTFOUND, ...) fall to the default.
const CODES: Readonly<Record<string, number>> = {
  AUTHORIZATION_VIOLATION: 401,
  AUTHENTICATION_EXPIRED: 401,
  AUTHENTICATION_TIMEOUT: 401,
  ACCOUNT_EXPIRED: 401,
  BAD_AUTHENTICATION: 401,
  BAD_CREDS: 401,
  PERMISSIONS_VIOLATION: 403,
  MAX_PAYLOAD_EXCEEDED: 413,
  BAD_SUBJECT: 400,
  BAD_PAYLOAD: 400,
  BAD_HEADER: 400,
  INVALID_OPTION: 400,
  CONNECTION_REFUSED: 503,
  CONNECTION_TIMEOUT: 503,
  CONNECTION_CLOSED: 503,
  CONNECTION_DRAINING: 503,
  DISCONNECT: 503,
  TIMEOUT: 503,
  TLS: 503,
  SERVER_OPT_NA: 503,
};

function reason(error: unknown): string {
  if (isError(error)) {
    const code = (error as { code?: unknown }).code;
    const message = error.message || String(code ?? error.name);
    return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
  }
  return String(error);
}

/**
 * Wraps an error of the nats client in a {@link MicroError} (id `go.micro.broker`)
 * with the right code and the original as `cause`: 401 authentication, 403
 * permissions, 413 a message over the server's max_payload, 400 bad input, 503 a
 * server that cannot be reached or a connection that is gone.
 * @param error what the nats client threw
 * @param detail what was being done, e.g. `cannot connect to nats://127.0.0.1:4222`
 * @param fallback the code for an error of unknown kind
 * @returns the wrapped error; a MicroError passes through unchanged
 */
export function toMicroError(error: unknown, detail: string, fallback = 503): MicroError {
  if (isMicroError(error)) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const mapped = typeof code === 'string' ? CODES[code] : undefined;
  return new MicroError(ErrorIds.broker, `nats: ${detail}: ${reason(error)}`, mapped ?? fallback, {
    cause: error,
  });
}
