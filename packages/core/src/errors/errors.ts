/**
 * go-micro's error model: every error that crosses a process boundary is a
 * `{id, code, detail, status}` JSON object, with HTTP-like codes.
 */

const BRAND = Symbol.for('@micro/core/MicroError');

/** The JSON shape of a {@link MicroError} on the wire (go-micro's `errors.Error`). */
export interface MicroErrorJSON {
  id?: string;
  code?: number;
  detail?: string;
  status?: string;
}

/** Options accepted by every error constructor. */
export interface MicroErrorOptions {
  /** The underlying error, kept for logs; never sent over the wire. */
  cause?: unknown;
  /** Overrides the status text derived from the code. */
  status?: string;
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  499: 'Client Closed Request',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/**
 * Returns the HTTP status text for a code, as go-micro's `http.StatusText`.
 * @param code an HTTP-like status code
 * @returns the text, or an empty string for an unknown code
 */
export function statusText(code: number): string {
  return STATUS_TEXT[code] ?? '';
}

/**
 * The one error type of @micro. Its JSON form is go-micro's, so errors round-trip
 * between TypeScript and Go services unchanged.
 *
 * @example
 * throw new MicroError('helloworld', 'name is required', 400);
 * // on the wire: {"id":"helloworld","code":400,"detail":"name is required","status":"Bad Request"}
 */
export class MicroError extends Error {
  /** The component or service that produced the error, e.g. `go.micro.client`. */
  readonly id: string;
  /** An HTTP-like status code; 0 when unknown (a non-JSON error string from a peer). */
  readonly code: number;
  /** Human-readable detail. */
  readonly detail: string;
  /** The status text for {@link code}. */
  readonly status: string;

  /**
   * @param id the component or service that produced the error
   * @param detail what went wrong, for humans
   * @param code an HTTP-like status code
   * @param options cause and status overrides
   */
  constructor(id: string, detail: string, code: number, options: MicroErrorOptions = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MicroError';
    this.id = id;
    this.code = code;
    this.detail = detail;
    this.status = options.status ?? statusText(code);
  }

  /** Brand checked by {@link isMicroError}; shared by every copy of @micro/core. */
  get [BRAND](): true {
    return true;
  }

  /** `instanceof MicroError` holds for errors made by another copy of @micro/core too. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return isMicroError(value);
  }

  /** @returns go-micro's wire shape */
  toJSON(): Required<MicroErrorJSON> {
    return { id: this.id, code: this.code, detail: this.detail, status: this.status };
  }

  /** @returns the wire JSON string, as go-micro's `Error()` */
  override toString(): string {
    return JSON.stringify(this.toJSON());
  }
}

/**
 * True for a {@link MicroError} from any copy of @micro/core.
 * @param value anything caught
 */
export function isMicroError(value: unknown): value is MicroError {
  return (
    typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true
  );
}

/**
 * True for an Error from any realm: errors Node's own modules throw inside a
 * Jest or vm context fail `instanceof Error`, so this checks the shape.
 * @param value anything caught
 */
export function isError(value: unknown): value is Error {
  return (
    value instanceof Error ||
    (typeof value === 'object' &&
      value !== null &&
      typeof (value as Error).message === 'string' &&
      typeof (value as Error).name === 'string')
  );
}

/**
 * The message of anything thrown, for logs and error details.
 * @param error anything caught
 */
export function errorMessage(error: unknown): string {
  return isError(error) ? error.message : String(error);
}

/**
 * Parses go-micro's error JSON. A string that is not error JSON becomes the detail
 * of an error with code 0, as go-micro's `errors.Parse` does.
 * @param text the error string received from a peer
 */
export function parseError(text: string): MicroError {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      const json = value as MicroErrorJSON;
      if (typeof json.code === 'number' || typeof json.detail === 'string') {
        return new MicroError(
          typeof json.id === 'string' ? json.id : '',
          typeof json.detail === 'string' ? json.detail : '',
          typeof json.code === 'number' ? json.code : 0,
          typeof json.status === 'string' ? { status: json.status } : {},
        );
      }
    }
  } catch {
    // not JSON: fall through
  }
  return new MicroError('', text, 0);
}

/**
 * Turns anything thrown into a {@link MicroError}: a MicroError passes through, a
 * string or an Error's message is parsed as go-micro error JSON.
 * @param error anything caught
 */
export function fromError(error: unknown): MicroError {
  if (isMicroError(error)) return error;
  if (typeof error === 'string') return parseError(error);
  if (isError(error)) {
    const parsed = parseError(error.message);
    return new MicroError(parsed.id, parsed.detail, parsed.code, {
      cause: error,
      status: parsed.status,
    });
  }
  return new MicroError('', String(error), 0, { cause: error });
}

type Helper = (id: string, detail: string, cause?: unknown) => MicroError;

function helper(code: number): Helper {
  return (id, detail, cause) => new MicroError(id, detail, code, { cause });
}

/** 400: the request is malformed (undecodable body, missing header). */
export const badRequest: Helper = helper(400);
/** 401: no or invalid credentials. */
export const unauthorized: Helper = helper(401);
/** 403: credentials valid, access denied. */
export const forbidden: Helper = helper(403);
/** 404: unknown service, handler or endpoint. */
export const notFound: Helper = helper(404);
/** 405: the method is not allowed. */
export const methodNotAllowed: Helper = helper(405);
/** 408: the deadline passed (go-micro's call timeout). */
export const timeout: Helper = helper(408);
/** 409: a conflicting state. */
export const conflict: Helper = helper(409);
/** 413: a message larger than the configured maximum. */
export const payloadTooLarge: Helper = helper(413);
/** 415: no codec for the content type. */
export const unsupportedMediaType: Helper = helper(415);
/** 499: the caller cancelled the call. */
export const cancelled: Helper = helper(499);
/** 500: an unexpected failure. */
export const internalServerError: Helper = helper(500);
/** 503: a node or server could not be reached, or is shutting down; safe to retry elsewhere. */
export const unavailable: Helper = helper(503);

/**
 * The codes a client retries on another node: the node was unreachable (503)
 * or the attempt timed out (408).
 * @param error anything caught from an attempt
 */
export function isRetryable(error: unknown): boolean {
  return isMicroError(error) && (error.code === 503 || error.code === 408);
}

/** Ids of the errors @micro itself produces, as go-micro names them. */
export const ErrorIds = {
  client: 'go.micro.client',
  server: 'go.micro.server',
  transport: 'go.micro.transport',
  codec: 'go.micro.codec',
  registry: 'go.micro.registry',
  selector: 'go.micro.selector',
  broker: 'go.micro.broker',
} as const;
