import { ErrorIds, type MicroError, unavailable } from '@micro/core';

const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_)/;

function codeOf(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return '';
}

function messageOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // OpenSSL's "…:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:…"
  const reason = /SSL routines:[^:]*:([^:]+):/.exec(message);
  return reason ? reason[1]! : message;
}

/**
 * Maps a node:net or node:tls error to a 503 that names the address.
 * @param address the peer, as dialed or as seen by the listener
 * @param error what node:net or node:tls reported
 * @param connecting true while the connection was being set up (a dial error)
 */
export function networkError(address: string, error: unknown, connecting: boolean): MicroError {
  const code = codeOf(error);
  let detail: string;
  if (code === 'ECONNREFUSED') detail = `connection refused: ${address}`;
  else if (
    code === 'ENOTFOUND' ||
    code === 'EAI_AGAIN' ||
    code === 'EAI_NONAME' ||
    code === 'EAI_FAIL'
  )
    detail = `cannot resolve the host of ${address} (${code})`;
  else if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ETIMEDOUT')
    detail = `${address} is unreachable (${code})`;
  else if (TLS_CODE.test(code) || /\b(SSL|TLS|certificate)\b/i.test(String(error)))
    detail = `TLS with ${address} failed: ${messageOf(error)}`;
  else if (connecting) detail = `cannot connect to ${address}: ${messageOf(error)}`;
  else detail = `connection to ${address} lost: ${code || messageOf(error)}`;
  return unavailable(ErrorIds.transport, detail, error);
}
